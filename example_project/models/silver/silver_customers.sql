select
    customer_id,
    first_name,
    last_name,
    nullif(lower(trim(email)), '') as email,
    upper(country) as country,
    cast(updated_at as timestamp) as updated_at
from {{ ref('raw_customers') }}
