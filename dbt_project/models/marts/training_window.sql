-- The training window, one row (computed in int_training_window): the last `window_days` event
-- days ending at `window_end`, and the holdout cutoff at the start of its last `holdout_days`.
select window_start, window_end, holdout_cutoff, window_days, holdout_days
from {{ ref('int_training_window') }}
