-- Create the hub's PostgreSQL role and database (idempotent: run it again to
-- change the password). Run as the postgres superuser:
--   sudo -u postgres psql -v ON_ERROR_STOP=1 -v role=accueil_hub \
--        -v dbname=accueil_hub -v password='...' -f postgres-setup.sql
-- The hub creates and migrates its own tables when it starts.
SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role')\gexec
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'password';

SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L TEMPLATE template0', :'dbname', :'role', 'UTF8')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'dbname')\gexec

-- only the hub's role may connect and create tables
REVOKE ALL ON DATABASE :"dbname" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"dbname" TO :"role";
\connect :"dbname"
ALTER SCHEMA public OWNER TO :"role";
REVOKE ALL ON SCHEMA public FROM PUBLIC;
