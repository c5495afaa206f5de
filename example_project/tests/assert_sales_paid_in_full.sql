-- Every completed sale must be covered exactly by its payments.
select s.sale_id, s.amount, sum(p.amount) as paid
from {{ ref('silver_sales') }} as s
join {{ ref('silver_payments') }} as p on p.sale_id = s.sale_id
where s.status = 'completed'
group by 1, 2
having sum(p.amount) <> s.amount
