{#- Every raw row is accepted, rejected or an exact duplicate: returns the tables that do not add up. -#}
select
    source_table,
    raw_rows,
    accepted_rows,
    rejected_rows,
    exact_duplicate_rows
from {{ ref('reconciliation') }}
where raw_rows <> accepted_rows + rejected_rows + exact_duplicate_rows
