{#- Grants (`grants:` config), applied inside the model's transaction after
    the relation is in place. A relation that was just created has no grants
    to keep, so only what is configured is granted; one that lived on
    (incremental runs, seeds reloaded, snapshots) is compared with the
    warehouse's grants first, and what is no longer configured is revoked. -#}

{% macro should_revoke(existing_relation, full_refresh_mode=True) -%}
  {%- if not existing_relation -%}
    {{ return(False) }}
  {%- elif full_refresh_mode -%}
    {{ return(copy_grants()) }}
  {%- else -%}
    {{ return(True) }}
  {%- endif -%}
{%- endmacro %}

{% macro copy_grants() -%}
  {{ return(adapter.dispatch('copy_grants', 'dbt')()) }}
{%- endmacro %}

{% macro default__copy_grants() -%}
  {{ return(True) }}
{%- endmacro %}

{% macro get_show_grant_sql(relation) -%}
  {{ return(adapter.dispatch('get_show_grant_sql', 'dbt')(relation)) }}
{%- endmacro %}

{% macro default__get_show_grant_sql(relation) -%}
  show grants on {{ relation.render() }}
{%- endmacro %}

{% macro get_grant_sql(relation, privilege, grantees) -%}
  {{ return(adapter.dispatch('get_grant_sql', 'dbt')(relation, privilege, grantees)) }}
{%- endmacro %}

{% macro default__get_grant_sql(relation, privilege, grantees) -%}
  grant {{ privilege }} on {{ relation.render() }} to {{ grantees | join(', ') }}
{%- endmacro %}

{% macro get_revoke_sql(relation, privilege, grantees) -%}
  {{ return(adapter.dispatch('get_revoke_sql', 'dbt')(relation, privilege, grantees)) }}
{%- endmacro %}

{% macro default__get_revoke_sql(relation, privilege, grantees) -%}
  {%- set quoted = [] -%}
  {%- for g in grantees -%}{%- do quoted.append(adapter.quote(g)) -%}{%- endfor -%}
  revoke {{ privilege }} on {{ relation.render() }} from {{ quoted | join(', ') }}
{%- endmacro %}

{#- A grants mapping with every privilege lower case and every grantee list
    a list. -#}
{% macro xform_normalize_grants(grants) -%}
  {%- set out = {} -%}
  {%- for privilege, grantees in (grants or {}).items() -%}
    {%- set names = [grantees] if grantees is string else (grantees or []) | list -%}
    {%- set have = out.get(privilege | lower) or [] -%}
    {%- do out.update({(privilege | lower): have + names}) -%}
  {%- endfor -%}
  {{ return(out) }}
{%- endmacro %}

{#- What `a` grants that `b` does not, grantees compared case-insensitively. -#}
{% macro xform_grants_missing(a, b) -%}
  {%- set out = {} -%}
  {%- for privilege, grantees in a.items() -%}
    {%- set present = (b.get(privilege) or []) | map('lower') | list -%}
    {%- set missing = [] -%}
    {%- for g in grantees if (g | lower) not in present -%}{%- do missing.append(g) -%}{%- endfor -%}
    {%- if missing -%}{%- do out.update({privilege: missing}) -%}{%- endif -%}
  {%- endfor -%}
  {{ return(out) }}
{%- endmacro %}

{% macro apply_grants(relation, grant_config, should_revoke=True) -%}
  {{ return(adapter.dispatch('apply_grants', 'dbt')(relation, grant_config, should_revoke)) }}
{%- endmacro %}

{% macro default__apply_grants(relation, grant_config, should_revoke=True) -%}
  {%- if grant_config -%}
    {%- set wanted = xform_normalize_grants(grant_config) -%}
    {%- if should_revoke -%}
      {%- set current = {} -%}
      {%- for row in run_query(get_show_grant_sql(relation)).rows -%}
        {%- set privilege = row[1] | lower -%}
        {%- do current.update({privilege: (current.get(privilege) or []) + [row[0]]}) -%}
      {%- endfor -%}
      {%- set to_revoke = xform_grants_missing(current, wanted) -%}
      {%- set to_grant = xform_grants_missing(wanted, current) -%}
    {%- else -%}
      {%- set to_revoke = {} -%}
      {%- set to_grant = wanted -%}
    {%- endif -%}
    {%- for privilege, grantees in to_revoke.items() %}
      {% call statement('revoke') -%}
        {{ get_revoke_sql(relation, privilege, grantees) }}
      {%- endcall %}
    {%- endfor %}
    {%- for privilege, grantees in to_grant.items() if grantees %}
      {% call statement('grant') -%}
        {{ get_grant_sql(relation, privilege, grantees) }}
      {%- endcall %}
    {%- endfor %}
  {%- endif -%}
{%- endmacro %}
