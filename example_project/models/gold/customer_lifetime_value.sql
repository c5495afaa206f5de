with sales as (
    select customer_id, amount
    from {{ ref('silver_sales') }}
    where status <> 'returned'
)

select
    c.customer_id,
    c.first_name || ' ' || c.last_name as customer_name,
    c.country,
    count(s.amount) as n_sales,
    coalesce(sum(s.amount), 0) as lifetime_value
from {{ ref('silver_customers') }} as c
left join sales as s on s.customer_id = c.customer_id
group by 1, 2, 3
