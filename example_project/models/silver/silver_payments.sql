select
    payment_id,
    sale_id,
    method,
    {{ to_dollars('amount') }} as amount,
    cast(paid_at as timestamp) as paid_at
from {{ ref('raw_payments') }}
where amount >= {{ var('min_payment_amount') }}
