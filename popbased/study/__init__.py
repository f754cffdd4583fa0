"""The replication study: the safety study's populations trained on the fast env, evaluated on
real Melting Pot, beside the study's published figures (`popbased study run`, populations/study/)."""
