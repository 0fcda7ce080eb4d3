-- shared retry budget: budget_sync (after state/prelude.lua and _budget.lua)
-- ARGV: calls to add, ttl seconds
return {c, r}
