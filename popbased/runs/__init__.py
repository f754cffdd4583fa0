"""Run folders of PBT runs and leagues: writing and committing a generation (state), reading
a folder back (folder), and the LEAGUE / MEMBER references the commands take (refs)."""
