-- What must be the same after a restore into the same or a newer major, in
-- a form every major from 12 to 18 prints alike (no pg_dump text, which
-- differs between majors).  Run with psql; \gexec runs the per-table queries.
SELECT format('relation %s.%s kind=%s owner=%s acl=%s comment=%s', n.nspname, c.relname, c.relkind,
              pg_get_userbyid(c.relowner),
              -- MAINTAIN (17+) joined the owner's default privileges: left out
              CASE WHEN c.relacl IS NULL THEN '-' ELSE
                (SELECT string_agg(format('%s:%s%s/%s', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END,
                                          a.privilege_type, CASE WHEN a.is_grantable THEN '*' ELSE '' END,
                                          pg_get_userbyid(a.grantor)), ',' ORDER BY 1)
                 FROM aclexplode(c.relacl) a WHERE a.privilege_type <> 'MAINTAIN') END,
              coalesce(obj_description(c.oid, 'pg_class'), '-'))
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'i', 'I')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1;
SELECT format('schema %s owner=%s acl=%s', nspname, pg_get_userbyid(nspowner), coalesce(nspacl::text, '-'))
FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname NOT IN ('information_schema', 'public') ORDER BY 1;
SELECT format('extension %s', extname) FROM pg_extension ORDER BY 1;
SELECT format('partition %s of %s: %s', c.oid::regclass, i.inhparent::regclass, pg_get_expr(c.relpartbound, c.oid))
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relispartition ORDER BY 1;
SELECT format('policy %s.%s %s permissive=%s roles=%s cmd=%s', schemaname, tablename, policyname, permissive,
              roles::text, cmd)
FROM pg_policies ORDER BY 1;
SELECT format('rls %s.%s %s', n.nspname, c.relname, c.relrowsecurity)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relrowsecurity ORDER BY 1;
SELECT format('large object %s owner=%s acl=%s md5=%s comment=%s', m.oid, pg_get_userbyid(m.lomowner),
              coalesce(m.lomacl::text, '-'), md5(lo_get(m.oid)), coalesce(obj_description(m.oid, 'pg_largeobject'), '-'))
FROM pg_largeobject_metadata m ORDER BY m.oid;
SELECT format($q$SELECT %L || ' rows=' || count(*) || ' md5=' || coalesce(md5(string_agg(t::text, E'\n' ORDER BY t::text COLLATE "C")), '-') FROM ONLY %s AS t$q$,
              'table ' || c.oid::regclass::text, c.oid::regclass)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' AND c.relkind = 'r'
ORDER BY 1
\gexec
SELECT format($q$SELECT %L || ' last_value=' || last_value || ' is_called=' || is_called FROM %s$q$,
              'sequence ' || c.oid::regclass::text, c.oid::regclass)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname !~ '^pg_' AND c.relkind = 'S' ORDER BY 1
\gexec
