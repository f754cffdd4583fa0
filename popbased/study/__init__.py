"""Issue 19's study: the safety study's populations trained on the fast env, evaluated on real Melting Pot."""
