"""Database tooling: the migrations runner, the local cluster, the SQL splitter and the access contract."""
