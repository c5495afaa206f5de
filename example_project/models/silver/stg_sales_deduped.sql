{{ config(materialized='ephemeral') }}

{#- The source system sometimes sends the same sale twice. -#}
select distinct
    try_cast(sale_id as integer) as sale_id,
    customer_id,
    try_cast(sold_at as timestamp) as sold_at,
    {{ to_dollars('amount') }} as amount,
    status
from {{ ref('raw_sales') }}
