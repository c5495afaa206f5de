{#- DuckDB has no grants: as dbt-duckdb, a `grants:` config is ignored. -#}
{% macro duckdb__apply_grants(relation, grant_config, should_revoke=True) -%}
  {%- if grant_config -%}
    {{ log('Grants for relations are not supported by DuckDB', info=True) }}
  {%- endif -%}
{%- endmacro %}
