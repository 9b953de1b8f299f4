# Shared by bench/run.sh: the same PostgreSQL conditions as the peers' harness (lib/env.sh there).
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER=bench PGPASSWORD=bench PGSSLMODE=disable PGDATABASE=postgres

# Commands as the postgres OS user through the local socket (peer auth).
as_pg() { su postgres -c "PGHOST=/var/run/postgresql PGUSER=postgres PGDATABASE=postgres PGPASSWORD= $*"; }

# The Debian cluster on 127.0.0.1:5432 (installed if missing), with the role the benchmarks use.
ensure_pg() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  if ! as_pg "psql -X -Atc 'select 1'" >/dev/null 2>&1; then
    service postgresql start >/dev/null
    for _ in $(seq 1 30); do as_pg "psql -X -Atc 'select 1'" >/dev/null 2>&1 && break; sleep 1; done
  fi
  as_pg "psql -X -q -v ON_ERROR_STOP=1 -c \"DO \\\$\\\$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname='bench') THEN CREATE ROLE bench LOGIN CREATEDB PASSWORD 'bench'; END IF; END \\\$\\\$;\""
  # The cost-growth cases checkpoint after prefilling, as the workloads do after installing the schema.
  as_pg "psql -X -q -c 'GRANT pg_checkpoint TO bench'"
}

# A fresh, empty database owned by bench, before every repetition.
reset_db() {
  as_pg "dropdb --if-exists --force $1" >/dev/null 2>&1
  as_pg "createdb -O bench $1"
}

# Checkpoint and a short idle pause, so repetitions start from the same state.
settle() {
  as_pg "psql -X -q -c 'CHECKPOINT'" >/dev/null
  sleep "${SETTLE_S:-2}"
}
