DROP FUNCTION loyalty.process_enrollment_approvals(uuid[], bigint);
