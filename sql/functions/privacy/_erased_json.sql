-- What a notification's data or an event's payload keeps when its customer is erased: the ids,
-- amounts and flags (numbers, booleans), and the keys that name no person (the program, the
-- business, the reward, a request's or a redemption's id, a redemption's code, the channels, a
-- status). Everything else goes: names, emails, card numbers, reasons, notes, messages. A
-- whitelist, so that a key added later is dropped unless it is named here.
CREATE OR REPLACE FUNCTION loyalty._erased_json(p_data jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}'::jsonb)
      FROM jsonb_each(p_data) AS e
     WHERE jsonb_typeof(e.value) IN ('number', 'boolean', 'null')
        OR e.key IN ('program_name', 'business_name', 'reward_name', 'request_id', 'redemption_id', 'code',
                     'channels', 'status', 'cancelled_by', 'kind')
$$;
