DROP FUNCTION loyalty.customer_cards(bigint);

DROP VIEW loyalty.card_details;

DROP FUNCTION
    loyalty.process_enrollment_approval(uuid, boolean, text, bigint),
    loyalty.decide_locked_request(loyalty.customer_approval_requests, boolean, text, bigint),
    loyalty.check_business(loyalty.customer_approval_requests, bigint),
    loyalty.reject_locked_request(loyalty.customer_approval_requests, text),
    loyalty.approve_locked_request(loyalty.customer_approval_requests),
    loyalty.decision_result(uuid),
    loyalty.request_enrollment(bigint, bigint, text),
    loyalty.program_info(bigint);

DROP TYPE loyalty.program_info, loyalty.enrollment_result;
