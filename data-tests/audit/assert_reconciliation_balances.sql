{#- Every raw row is accepted, rejected, an exact duplicate or waiting for its customer: returns the
    tables that do not add up. -#}
select
    source_table,
    raw_rows,
    accepted_rows,
    rejected_rows,
    exact_duplicate_rows,
    waiting_rows
from {{ ref('reconciliation') }}
where raw_rows <> accepted_rows + rejected_rows + exact_duplicate_rows + waiting_rows
