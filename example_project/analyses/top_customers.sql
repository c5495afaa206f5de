select customer_name, lifetime_value
from {{ ref('customer_lifetime_value') }}
order by lifetime_value desc
limit 3
