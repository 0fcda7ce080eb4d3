-- the state store's probe (after prelude.lua): `buttress state check` loads it, with every
-- script loaded so far, to find a Redis that refuses scripting before a policy needs it
return now
