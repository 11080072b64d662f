-- pgTAP: the API exists, runs as its owner with a pinned search_path, and only loyalty_app may call it.
BEGIN;
SELECT plan(34);

SELECT has_schema('loyalty');
SELECT has_role('loyalty_owner');
SELECT has_role('loyalty_app');

SELECT has_function('loyalty', 'process_enrollment_approval', ARRAY['uuid', 'boolean']);
SELECT has_function('loyalty', 'request_enrollment', ARRAY['bigint', 'bigint', 'text']);
SELECT has_function('loyalty', 'ensure_customer_exists', ARRAY['bigint']);
SELECT has_function('loyalty', 'ensure_customer', ARRAY['bigint']);
SELECT has_function('loyalty', 'customer_cards', ARRAY['bigint']);

SELECT is_definer('loyalty', 'process_enrollment_approval', ARRAY['uuid', 'boolean']);
SELECT is_definer('loyalty', 'request_enrollment', ARRAY['bigint', 'bigint', 'text']);
SELECT is_definer('loyalty', 'ensure_customer_exists', ARRAY['bigint']);
SELECT is_definer('loyalty', 'ensure_customer', ARRAY['bigint']);
SELECT is_definer('loyalty', 'customer_cards', ARRAY['bigint']);

SELECT function_privs_are('loyalty', 'process_enrollment_approval', ARRAY['uuid', 'boolean'],
                          'loyalty_app', ARRAY['EXECUTE']);
SELECT function_privs_are('loyalty', 'request_enrollment', ARRAY['bigint', 'bigint', 'text'],
                          'loyalty_app', ARRAY['EXECUTE']);
SELECT function_privs_are('loyalty', 'ensure_customer_exists', ARRAY['bigint'], 'loyalty_app', ARRAY['EXECUTE']);
SELECT function_privs_are('loyalty', 'ensure_customer', ARRAY['bigint'], 'loyalty_app', ARRAY['EXECUTE']);
SELECT function_privs_are('loyalty', 'customer_cards', ARRAY['bigint'], 'loyalty_app', ARRAY['EXECUTE']);

-- Internal helpers stay closed to the app.
SELECT function_privs_are('loyalty', '_stored_result', ARRAY['loyalty.customer_approval_requests'], 'loyalty_app', ARRAY[]::text[]);
SELECT function_privs_are('loyalty', '_display_name', ARRAY['bigint', 'text', 'text', 'text'],
                          'loyalty_app', ARRAY[]::text[]);
SELECT function_privs_are('loyalty', '_next_card_number', ARRAY[]::text[], 'loyalty_app', ARRAY[]::text[]);

-- No direct access to any table.
SELECT table_privs_are('loyalty', 'users', 'loyalty_app', ARRAY[]::text[]);
SELECT table_privs_are('loyalty', 'customers', 'loyalty_app', ARRAY[]::text[]);
SELECT table_privs_are('loyalty', 'loyalty_programs', 'loyalty_app', ARRAY[]::text[]);
SELECT table_privs_are('loyalty', 'customer_approval_requests', 'loyalty_app', ARRAY[]::text[]);
SELECT table_privs_are('loyalty', 'program_enrollments', 'loyalty_app', ARRAY[]::text[]);
SELECT table_privs_are('loyalty', 'loyalty_cards', 'loyalty_app', ARRAY[]::text[]);
SELECT table_privs_are('loyalty', 'customer_business_relationships', 'loyalty_app', ARRAY[]::text[]);
SELECT table_privs_are('loyalty', 'customer_notifications', 'loyalty_app', ARRAY[]::text[]);

SELECT is(
    (SELECT count(*)::int FROM pg_proc WHERE pronamespace = 'loyalty'::regnamespace
        AND has_function_privilege('public', oid, 'EXECUTE')),
    0, 'no loyalty function is executable by PUBLIC');
SELECT is(
    (SELECT count(*)::int FROM pg_proc WHERE pronamespace = 'loyalty'::regnamespace AND prosecdef
        AND NOT EXISTS (SELECT FROM unnest(proconfig) AS c WHERE c LIKE 'search_path=%')),
    0, 'every SECURITY DEFINER function pins its search_path');
SELECT is(
    (SELECT count(*)::int FROM pg_class WHERE relnamespace = 'loyalty'::regnamespace
        AND relowner <> 'loyalty_owner'::regrole),
    0, 'loyalty_owner owns every relation');
SELECT has_unique('loyalty', 'loyalty_cards', 'card numbers are unique');
SELECT fk_ok('loyalty', 'loyalty_cards', 'customer_id', 'loyalty', 'customers', 'id');

SELECT * FROM finish();
ROLLBACK;
