{#- Parses a raw text amount into dollars, or NULL when it is not a number. -#}
{% macro to_dollars(column, scale=2) -%}
    round(try_cast({{ column }} as decimal(18, 4)), {{ scale }})
{%- endmacro %}
