{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='sale_id',
        on_schema_change='append_new_columns'
    )
}}

select sale_id, customer_id, sold_at, amount, status
from {{ ref('stg_sales_deduped') }}
where sold_at is not null
  and amount is not null
{% if is_incremental() %}
  and sold_at >= (select coalesce(max(sold_at), '1900-01-01') from {{ this }})
{% endif %}
