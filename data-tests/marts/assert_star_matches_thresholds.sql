{#
    Every scored customer's star is the highest star level whose threshold the credit score reaches,
    recomputed from credit_score and the star seed (not from the mart's own band join), and its label
    is that level's label.  Each distinct (score, star, label) is checked once, with the number of
    customers who have it.  Returns the combinations whose star or label differ.
#}
with

scores as (

    select * from {{ ref('customer_credit_score') }}

),

star_levels as (

    select * from {{ ref('star_levels') }}

),

score_values as (

    select
        credit_score,
        star_level,
        star_label,
        count(*) as customers
    from scores
    group by credit_score, star_level, star_label

),

expected as (

    select
        score_values.credit_score,
        max(star_levels.star_level) as expected_star_level
    from score_values
    inner join star_levels
        on
            star_levels.min_score_inclusive is null
            or score_values.credit_score >= star_levels.min_score_inclusive
    group by score_values.credit_score

)

select
    score_values.credit_score,
    score_values.star_level,
    score_values.star_label,
    score_values.customers,
    expected.expected_star_level,
    star_levels.star_label as expected_star_label
from score_values
left join expected
    on score_values.credit_score = expected.credit_score
left join star_levels
    on expected.expected_star_level = star_levels.star_level
where
    expected.expected_star_level is null
    or score_values.star_level <> expected.expected_star_level
    or score_values.star_label <> star_levels.star_label
