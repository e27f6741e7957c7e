"""Badge roles in Discord: the sync worker, checks, doctor, members, bulk progress."""
