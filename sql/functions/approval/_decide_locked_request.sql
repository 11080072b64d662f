-- Decide a locked request: authorisation, replay from its own row, refusal, or the decision.
CREATE OR REPLACE FUNCTION loyalty._decide_locked_request(p_request loyalty.customer_approval_requests, p_approved boolean, p_reason text, p_business_id bigint)
 RETURNS loyalty.enrollment_result
 LANGUAGE plpgsql
AS $function$
BEGIN
    -- Checked before anything else, replays included: another business learns nothing. Only
    -- when a business decides (the customer's call and the contract's call name none): a plpgsql
    -- call costs about 1% of an approval (docs/benchmarks.md).
    IF p_business_id IS NOT NULL THEN
        PERFORM loyalty._check_business(p_request, p_business_id);
    END IF;

    -- Overdue (swept or not): nothing is decided. A decision made in time replays below.
    IF p_request.status = 'EXPIRED' OR (p_request.status = 'PENDING' AND p_request.expires_at <= now()) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY009',
            MESSAGE = format('Enrollment request %s expired at %s', p_request.id, p_request.expires_at);
    END IF;

    IF p_request.status = (CASE WHEN p_approved THEN 'APPROVED' ELSE 'REJECTED' END) THEN
        -- Idempotent: the same decision again changes nothing and returns the same result. Said
        -- in a NOTICE (0042), so that a caller (loyaltydb approve) can tell a replay from a decision.
        RAISE NOTICE 'request % was % already: its stored result, nothing written', p_request.id,
            lower(p_request.status::text);
        RETURN loyalty._stored_result(p_request);
    ELSIF p_request.status <> 'PENDING' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY002',
            MESSAGE = format('Enrollment request %s is already %s', p_request.id, p_request.status);
    ELSIF p_approved THEN
        RETURN loyalty._approve_locked_request(p_request);
    ELSE
        RETURN loyalty._reject_locked_request(p_request, p_reason);
    END IF;
END;
$function$;
