select
    cast(sold_at as date) as sale_date,
    count(*) as n_sales,
    sum(amount) as revenue
from {{ ref('silver_sales') }}
where status in ('completed', 'shipped')
group by 1
order by 1
