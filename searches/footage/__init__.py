"""The footage index: every vehicle seen in the user's footage, stored once (a sighting), so that
later questions (a vehicle registered afterwards, another threshold, "find similar", explore, a
vehicle's journey across cameras) are answered without re-reading any video. Its own rooms:
models, index, store (written by the runner), answer (jobs answered from it), queries, views."""
