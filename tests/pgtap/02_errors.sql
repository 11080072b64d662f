-- pgTAP: every error of the contract is raised with its own SQLSTATE, as a psql user sees it.
BEGIN;
SELECT plan(10);

INSERT INTO loyalty.users (id, name, email) VALUES
    (7, 'Bean There Coffee', NULL), (8, 'Crumbs', NULL), (32, NULL, 'john.smith@example.com');
INSERT INTO loyalty.loyalty_programs (id, business_id, name) VALUES (1, 7, 'Coffee Club'), (2, 7, 'Closed Club');
INSERT INTO loyalty.customer_approval_requests (id, customer_id, program_id, business_id) VALUES
    ('00000000-0000-0000-0000-00000000000a', 32, 1, 7),
    ('00000000-0000-0000-0000-00000000000b', 999, 1, 7),
    ('00000000-0000-0000-0000-00000000000c', 32, 2, 7),
    ('00000000-0000-0000-0000-00000000000d', 32, 1, 7);
UPDATE loyalty.loyalty_programs SET status = 'INACTIVE' WHERE id = 2;

SELECT throws_ok(
    $$SELECT loyalty.process_enrollment_approval('00000000-0000-0000-0000-000000000000')$$,
    'LY001', 'Enrollment request not found: 00000000-0000-0000-0000-000000000000', 'LY001 request not found');
SELECT lives_ok(
    $$SELECT loyalty.process_enrollment_approval('00000000-0000-0000-0000-00000000000a', false)$$, 'reject');
SELECT throws_ok(
    $$SELECT loyalty.process_enrollment_approval('00000000-0000-0000-0000-00000000000a', true)$$,
    'LY002', 'Enrollment request 00000000-0000-0000-0000-00000000000a is already REJECTED',
    'LY002 request already decided');
SELECT throws_ok(
    $$SELECT loyalty.process_enrollment_approval('00000000-0000-0000-0000-00000000000b')$$,
    'LY003', 'User not found for customer_id: 999. Cannot create customer record.', 'LY003 user not found');
SELECT throws_ok(
    $$SELECT loyalty.request_enrollment(32, 12345)$$,
    'LY004', 'Loyalty program not found: 12345', 'LY004 program not found');
SELECT throws_ok(
    $$SELECT loyalty.process_enrollment_approval('00000000-0000-0000-0000-00000000000c')$$,
    'LY005', 'Loyalty program "Closed Club" is not active (status INACTIVE)', 'LY005 program not active');
SELECT throws_ok(
    $$SELECT loyalty.approve_enrollment('00000000-0000-0000-0000-00000000000d', p_business_id => 8)$$,
    'LY006', NULL, 'LY006 not authorized');
SELECT throws_ok(
    $$SELECT loyalty.process_enrollment_approval(NULL)$$,
    '22004', 'request id and approved must not be NULL', '22004 NULL argument');
SELECT throws_ok(
    $$SELECT loyalty.ensure_customer_exists(999)$$,
    'LY003', 'User not found for customer_id: 999. Cannot create customer record.', 'LY003 from ensure_customer_exists');
SELECT is(
    (SELECT status FROM loyalty.customer_approval_requests WHERE id = '00000000-0000-0000-0000-00000000000b'),
    'PENDING', 'a failed approval leaves its request PENDING');

SELECT * FROM finish();
ROLLBACK;
