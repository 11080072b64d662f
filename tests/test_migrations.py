"""Migrations: naming rule, apply/rollback round trips, nothing outside the loyalty schema."""

from __future__ import annotations

import difflib
import hashlib
import re
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlparse

import loyaltydb
import schema_dump
from helpers import build_world, count
from loyaltydb.migrations import _all_migrations, _backend, migrations_dir
from loyaltydb.testing import TempServer

#: sha256 of every released migration file. A released migration never changes (a database
#: migrated yesterday must reach the same state): change the schema with a new migration, and
#: add its two files here when you release it.
RELEASED = {
    "0001_schema.rollback.sql": "38dcabde87e4c7272cfd8762218e327e54015afc220dd79bd607ab923a292c36",
    "0001_schema.sql": "4cc75ef9c5a26c874ee425d60748c90af0dd07a57c8544059673e1376f08a00b",
    "0002_people.rollback.sql": "8d4da0a8e1f824d985b23863501ad667c784b12a051b7ef2006347aa4d234fa4",
    "0002_people.sql": "61c307537c99406462f2612d62ee07f05d3d5afa456f25456807f9fe4048826f",
    "0003_programs.rollback.sql": "bde48236c7dc3cc29bbd11183d708409e759498146a2dc1cab05ea1452d17e43",
    "0003_programs.sql": "fec6b2201b3e6b60e8ff25a2cf05c3c54e3fe41fdbf60feeaaf80c7dd7cb49ee",
    "0004_enrollments.rollback.sql": "1e3350e56cebd8aea63454e6ce49a80d1b91006c04c430179288f63dc862da9f",
    "0004_enrollments.sql": "490e07b5e42db0daa04d764d59906a43e6a21d5c5f9d6f91180cb1770c6b9c2b",
    "0005_card_numbers.rollback.sql": "75eb41997432c31ce0d30b34222f620ce878175b3e4273ebc2f94f2bfe656db0",
    "0005_card_numbers.sql": "c555d148076fa7f09f8767c2ddba55d57344e1182b4fd6964d2df33141f8b327",
    "0006_customer_functions.rollback.sql": "8ab0f2f32c835305c356717aead43a623d051a048987436dd6fcd8f9fffb5b90",
    "0006_customer_functions.sql": "a8240547ca4ff6ced7e912ff7a9c61a79488972161c27f621a2ea46dfa80e0e4",
    "0007_enrollment_functions.rollback.sql": "3e0f2c5bed503bfe7b212780469dce4608dbb0c26f9fc4fca0e00212a93b510b",
    "0007_enrollment_functions.sql": "54e87ce2a0127bbe24917c48e1746d3eac915f83bbb411c44da0f787e7ceccee",
    "0008_roles.rollback.sql": "f4c952ea9173d91cf58041a5f5b720751606436259681aaf76fd2aec0909b195",
    "0008_roles.sql": "6deb542a3a0c0d840dc27cfe1721c1546280ae6545967a7171de4f0579e11fb3",
    "0009_bulk_approval.rollback.sql": "94c5360d7e7a916f8642b059e06f74f891c966c8c1926383d2cff460a0d6aa40",
    "0009_bulk_approval.sql": "a7df888682b20b51301edabbd774633d86b061df17ab4b9a4f24abcc9ed274fb",
    "0010_correct_bulk_approval.rollback.sql": "8b037e0a61905316f8d90e4f912770c3fae9e7bf603d9d7b9bbce1b05bc178eb",
    "0010_correct_bulk_approval.sql": "5852e63f678f1a5b1b45fb7ac792227c61bad6a92dd71423d4bd60d581d04b9a",
    "0011_internal_names.rollback.sql": "dbaeed3764878c19ff34a875cf053d988484010f5469cc1c8760792726902a07",
    "0011_internal_names.sql": "1f2f37ec5709e8c04c02069e1a2bcc69e4298d546b21a8567e602c4c241644a0",
    "0012_distribution_keys.rollback.sql": "6a109421d8ceb54860568c83fcc1b3478992641d3611ae6c9055a7c78312eba9",
    "0012_distribution_keys.sql": "9a1fa7746a314c0e0035408e8f9ef2db95ccb2131a925e0d5bef4a1d51137b80",
    "0013_faster_approval.rollback.sql": "57dd3b7f4b53cac54d36cd86527f35985f167ff9b696f5ef997687fe835ea6c4",
    "0013_faster_approval.sql": "57596221abdd3b84c793452d8b3a1efeb8e2d1c49f5dd4018cc563a4d6f00a36",
    "0014_inbox_and_legacy_call.rollback.sql": "10476af3ba0bdda5263e958908b095fc67c3f654a756b93053f9bf2fc4dfab9f",
    "0014_inbox_and_legacy_call.sql": "8da6c327c53d620622bb609124982482be7a6f1c777ea87bbd7ef76451fc261d",
    "0015_set_based_card_numbers.rollback.sql": "2cd098d59a72e7a090943f914f72aaf3d59c4275b894dced8473f4b39a1c7da1",
    "0015_set_based_card_numbers.sql": "9c435ff2ede3191192a179b46d4f2f4811cab56e61284fbda5e9c79cd234d326",
    "0016_shared_approval_rules.rollback.sql": "17d83a1df4b531595f9dae51acebdcf15161ad71484d9e09bd78f035136312ab",
    "0016_shared_approval_rules.sql": "6496123fd1da15c8d55c4457251069f5a2b8bca969b511cf6b2ece9786189bc9",
    "0017_untyped_calls.rollback.sql": "e466c3df237ef7271bb0ce172abccecf87cc74bffbeae1401609c302287c61aa",
    "0017_untyped_calls.sql": "cd255c0e8937664612328c34853d7badb8db41a466132be393b06ebf872b64ca",
    "0018_cluster_lock_order.rollback.sql": "002b0ca3cf400645495785ec31adb2e3835e25b2a1b3ce6a9ad2fe2d4662b618",
    "0018_cluster_lock_order.sql": "ea5bb96873054b775a007656b76ca7c8dd49a7590eaed90045529f8adf9102ec",
    "0019_cluster_lock_timeout.rollback.sql": "b03ba54b15ea37aec679ee9bbe2183394522c88d997c7cb024d0cf038206287e",
    "0019_cluster_lock_timeout.sql": "15456ae81625a850635cc4a7e94eaedda926cfc844781a011d10246eb2e07414",
    "0020_invitations_schema.rollback.sql": "3343aa6d9ecea29484a6eb67465b10924bd952baa6f119c60e2a606479140552",
    "0020_invitations_schema.sql": "87db381f4e4645117e35682f2d6139816600e0bff13a9c59ea4d6149e5cba2f1",
    "0021_invitations.rollback.sql": "5065b071c98e3af479f82028eb147b58f32c97c8716b15bbd7a39dc327452896",
    "0021_invitations.sql": "70f0bd2981158130b45e303729647fdc11c9daacb6ed8c193676fd2d8c193a0a",
    "0022_cheap_request_id_check.rollback.sql": "5710f3fa01dea5b9fd069da80cf49bb63a813976cb7f3605507b5ba74c84cdc7",
    "0022_cheap_request_id_check.sql": "cc3f5182a84e98a44cfc9c3d3d896014d0db4d452cadfbf266f09d4339e4c508",
    "0023_approval_plans.rollback.sql": "d2b29703ccb7b6fb84eff5abba37906405fb4dcf3bf26f51da2c7d6606171dcc",
    "0023_approval_plans.sql": "8b1c4b659911432d789216084875c303ade711cfbba105886609c7a51956f4c3",
    "0024_legacy_import.rollback.sql": "3757a45777bfc9b73b00bbd2da6737ee80faf1dca3a5c9cc0457e21d9e7ad43c",
    "0024_legacy_import.sql": "2414039258d43350540da91641f368fbd90643388821b38de86009129e770c65",
    "0025_events_schema.rollback.sql": "9cce7f7789a0784e8841beacff5e82e7a096ad76288a2289f78769c40a109ea1",
    "0025_events_schema.sql": "48e802f7bde11986d5cdd1694f53cca63af7bcb6b12e8a736caf31bab1a9b1ae",
    "0026_events.rollback.sql": "384905ec06effbc186e25b24455713b29334b5605086eeb26369cd127e24fb04",
    "0026_events.sql": "f1c715cdf8ae9564f9d07c1ab5aaee537ebfbaf567db6e937f3bddcddc72b092",
    "0027_events_wake_cluster.rollback.sql": "e03eed5b86a5ef96eaf8b1e5b3e7401c81a5254f1e99fad06966ef186e5b311b",
    "0027_events_wake_cluster.sql": "6e48e1d6b6ed2758637cfd6eba7d60e520afbc5bd843fd37ec36babfe178abbb",
    "0028_luhn_arithmetic.rollback.sql": "182b835196cceb559755c577a68cda27dc563f548692f0970d1ae740b449cf12",
    "0028_luhn_arithmetic.sql": "726135f3dbbb66c39c5955675645d6ce457bf10d3d3d9599774c9924b3452b60",
    "0029_batch_new_cards.rollback.sql": "0ae67d6b602da72e0d4272ad73621280ddfefa56c6ca9810c034504eebb00457",
    "0029_batch_new_cards.sql": "91d46752ce87fc635cb3154c7d332f876609f1407d464e897ab5c9ec6a2844d2",
    "0030_status_domains.rollback.sql": "d34953169e3e57d87831435c1ea22d4c5e0620f68923cc834ffea88d803124e3",
    "0030_status_domains.sql": "f63f648df738ef3832a3130fa97d0d75d6527bae5b2123ff571adc6c7eaa8c4a",
    "0031_events_never_skip_own.rollback.sql": "bfda4d2b3361cc3c6c8c50d1333d20b2e2d8dabd380c0b1adc720dd60386afd1",
    "0031_events_never_skip_own.sql": "6cb943f0c00af708697f79290558ed7947242e318fa3b23855c025ff173a5881",
    "0032_points_ledger.rollback.sql": "2bad0a9945355129d07c0b4cf0071e4e073de963541752b755d475d4bc2804fd",
    "0032_points_ledger.sql": "13460c012f384b38fc4484913e6d26081ab17516ded1e876b3bdecbb85691154",
    "0033_card_lifecycle.rollback.sql": "2eecf02dbe4ac358e78afb73edaeb4982f1c5d166b1764723f95960c99e96af6",
    "0033_card_lifecycle.sql": "14068b5c074cf3450666b750ea3b6fff89eadb8da7a1649d970445b4d11479bf",
    "0034_points_deductions.rollback.sql": "d3d1467e518898100e6a30675b666403c1939656b2927b94d275d4f0bd466b11",
    "0034_points_deductions.sql": "85dd72424daae4eabf2a2428b1dd4455ba020ea4f56610a6ba0a1b52a014c840",
    "0035_notification_page_message.rollback.sql": "86f74b0523a83597e1d2be4106657db1d1dbafcf859f56c017e765bb7b8f8318",
    "0035_notification_page_message.sql": "60a90e1ceb5db792b2e702501d5ea805de0defab83ce7933619f75cbc5c628a4",
    "0036_points_expiry.rollback.sql": "9a24e819b3a3c65a54e2c19a50044ca361b669326dd5297d8ae80099492b8789",
    "0036_points_expiry.sql": "b2cf67df4081a273b7e0a6208088a80e8088436fedf8bac61ae4649eed05020e",
    "0037_users_and_programs.rollback.sql": "06a0065fc72c6f8a5a98c09d76925de2446ac5d1122f952ecbeb57272b91652f",
    "0037_users_and_programs.sql": "16cde824503b231aa5ee84e3647ff81a54b74ee343312355de67366dc51ad2be",
    "0038_batch_points_fixup_when_needed.rollback.sql": (
        "4b89219c03eeebdb258461a14c49b662b63276cac1e911ed6604ae59dfbce208"
    ),
    "0038_batch_points_fixup_when_needed.sql": "669c84c90d657cce544407bd2622e535209cea0324f5d9b43af0f2170611ce9b",
    "0039_rewards.rollback.sql": "9cc603cb93e50559348b4d8ac1caf17a261b40944e1162ca837714fcbcdd2418",
    "0039_rewards.sql": "6b745c684e546227ba469d01bb3a4a484187253a1a2a4b84c2caa4614b058d16",
    "0040_batch_names_once_a_program.rollback.sql": "b9c34c3a3880e42252d8994a9ca4099ee48d4541d3103072e967ecaa4620827f",
    "0040_batch_names_once_a_program.sql": "62a85f5a2208bf8a3c1aab55afd7f850b8294a5c6a3269a7b59350fdc16476c0",
    "0041_personal_data.rollback.sql": "7e91a55b8640f3aef5551a333637c31e5afbc378e40ea4d47859a4ebf170952b",
    "0041_personal_data.sql": "b8561e1ab7adcaf3caeae7cd028efb8a49540ea29a1d1a4c450b3502fde93cec",
    "0042_replay_notice.rollback.sql": "7f8c4aea62cad7e823644980a0d0d113dfdb0944c9a06d237412d876762384f3",
    "0042_replay_notice.sql": "a6421cccace5327e1e46986edae6bf38d4e8ad6c8ef96ed445fdef2ac2a0c9ed",
}

MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
YOYO_TABLES = {"_yoyo_log", "_yoyo_migration", "_yoyo_version", "yoyo_lock"}


def _forward_files() -> list[Path]:
    return sorted(path for path in migrations_dir().glob("*.sql") if not path.name.endswith(".rollback.sql"))


def test_migration_files_follow_the_naming_rule() -> None:
    forward = _forward_files()
    assert forward, "no migrations found"
    previous = None
    for number, path in enumerate(forward, start=1):
        match = MIGRATION_NAME.match(path.name)
        assert match, f"{path.name}: want NNNN_snake_case.sql"
        assert int(match.group(1)) == number, f"{path.name}: numbers must run 0001, 0002, ... without gaps"
        rollback = path.with_name(path.stem + ".rollback.sql")
        assert rollback.is_file(), f"{path.name} has no {rollback.name}"
        text = path.read_text()
        if previous is not None:
            assert f"-- depends: {previous}" in text, f"{path.name} must depend on {previous}"
        # yoyo pairs rollback statements with forward ones; it cannot run more rollbacks than forwards.
        assert len(sqlparse.split(rollback.read_text())) <= len(sqlparse.split(text)), rollback.name
        previous = path.stem
    every_sql = {path.name for path in migrations_dir().glob("*.sql")}
    assert every_sql == {p.name for p in forward} | {p.stem + ".rollback.sql" for p in forward}


def _schema_dump(server: TempServer, conninfo: str) -> str:
    return schema_dump.dump(server, conninfo)


def test_released_migrations_are_frozen() -> None:
    """Every migration file is released with its checksum, and none has changed since."""
    found = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in migrations_dir().glob("*.sql")}
    # Unreleased migrations (still editable) come after every released one; add their
    # checksums to RELEASED when you release them.
    unreleased = sorted(set(found) - set(RELEASED))
    assert all(name > max(RELEASED) for name in unreleased), f"{unreleased} sort before a released migration"
    changed = sorted(name for name, digest in RELEASED.items() if found.get(name) != digest)
    assert not changed, f"released migrations changed (or went missing): {changed}; write a new migration instead"


def test_the_current_schema_file_is_what_the_migrations_make(dsn: str, pg_server: TempServer) -> None:
    """sql/current/schema.sql, the one place a DBA reads every definition, equals the migrations."""
    assert schema_dump.SCHEMA_FILE.read_text(encoding="utf-8") == schema_dump.dump(pg_server, dsn), (
        "sql/current/schema.sql is out of date: run `make schema`"
    )


def _objects_outside_loyalty(conninfo: str) -> set[str]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            """
            SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public'
            UNION ALL
            SELECT p.proname FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
             WHERE n.nspname = 'public'
            UNION ALL
            SELECT t.typname FROM pg_type AS t JOIN pg_namespace AS n ON n.oid = t.typnamespace
             WHERE n.nspname = 'public' AND t.typrelid = 0 AND t.typelem = 0
            """
        ).fetchall()
    return {row[0] for row in rows}


def test_migrate_applies_everything_once(empty_dsn: str) -> None:
    applied = loyaltydb.migrate(empty_dsn)
    assert applied == [path.stem for path in _forward_files()]
    assert loyaltydb.migrate(empty_dsn) == []
    assert all(state.applied for state in loyaltydb.status(empty_dsn))


def test_nothing_but_yoyo_bookkeeping_lands_in_public(empty_dsn: str) -> None:
    loyaltydb.migrate(empty_dsn)
    outside = _objects_outside_loyalty(empty_dsn)
    assert {name for name in outside if not name.endswith(("_pkey", "_seq"))} <= YOYO_TABLES


def test_rolling_back_everything_removes_the_schema_and_reapplying_works(empty_dsn: str, pg_server: TempServer) -> None:
    loyaltydb.migrate(empty_dsn)
    migrated = _schema_dump(pg_server, empty_dsn)
    undone = loyaltydb.rollback(empty_dsn, steps=None)
    assert undone == [path.stem for path in reversed(_forward_files())]
    with psycopg.connect(empty_dsn) as conn:
        assert conn.execute("SELECT to_regnamespace('loyalty')").fetchone() == (None,)
    assert not any(state.applied for state in loyaltydb.status(empty_dsn))
    loyaltydb.migrate(empty_dsn)
    assert _schema_dump(pg_server, empty_dsn) == migrated


def _apply_one(conninfo: str, migration: Any) -> None:
    """Apply exactly one migration (yoyo's backend, as loyaltydb.migrate uses it)."""
    with _backend(conninfo) as backend, backend.lock():
        backend.apply_migrations(backend.to_apply(_all_migrations().__class__([migration])))


def test_rolling_back_k_migrations_gives_the_schema_of_the_first_n_minus_k(
    pg_server: TempServer, empty_dsn: str, request: pytest.FixtureRequest
) -> None:
    """For every k: migrate all and roll back k equals migrating only the first N - k, function
    bodies, owners and grants included (a rollback that restores a wrong body fails here)."""
    migrations = list(_all_migrations())
    stepwise = pg_server.conninfo("rollback_reference")
    with psycopg.connect(pg_server.conninfo(), autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS rollback_reference")
        admin.execute("CREATE DATABASE rollback_reference")
    request.addfinalizer(lambda: _drop(pg_server, "rollback_reference"))
    reference = [schema_dump.dump_database(pg_server, stepwise)]
    for migration in migrations:
        _apply_one(stepwise, migration)
        reference.append(schema_dump.dump_database(pg_server, stepwise))

    loyaltydb.migrate(empty_dsn)
    assert schema_dump.dump_database(pg_server, empty_dsn) == reference[-1]
    for k in range(1, len(migrations) + 1):
        undone = loyaltydb.rollback(empty_dsn, steps=1)
        assert undone == [migrations[-k].id]
        got = schema_dump.dump_database(pg_server, empty_dsn)
        if got != reference[-k - 1]:
            diff = "\n".join(difflib.unified_diff(reference[-k - 1].splitlines(), got.splitlines(), lineterm="", n=1))
            pytest.fail(f"rolling back {migrations[-k].id} does not give the schema before it:\n{diff[:4000]}")


def _drop(server: TempServer, dbname: str) -> None:
    with psycopg.connect(server.conninfo(), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")


def test_migrate_closes_every_connection_it_opens(empty_dsn: str) -> None:
    dbname = psycopg.conninfo.conninfo_to_dict(empty_dsn)["dbname"]
    loyaltydb.migrate(empty_dsn)
    loyaltydb.status(empty_dsn)
    loyaltydb.rollback(empty_dsn, steps=2)
    with psycopg.connect(empty_dsn) as conn:
        others = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,)
        ).fetchone()
    assert others == (0,)


def test_plain_yoyo_sees_the_same_migrations(empty_dsn: str) -> None:
    """DBAs may run yoyo directly (README); both tools share yoyo's bookkeeping."""
    params: dict[str, Any] = psycopg.conninfo.conninfo_to_dict(empty_dsn)
    url = f"postgresql+psycopg://{params['user']}@{params['host']}:{params['port']}/{params['dbname']}"
    yoyo = Path(__import__("sys").executable).with_name("yoyo")
    subprocess.run(
        [str(yoyo), "apply", "--batch", "--database", url, str(migrations_dir())], check=True, capture_output=True
    )
    assert loyaltydb.migrate(empty_dsn) == []
    assert all(state.applied for state in loyaltydb.status(empty_dsn))


def test_a_database_migrated_by_0_2_0_migrates_on(empty_dsn: str, tmp_path: Path) -> None:
    """0.2.0 kept its migrations in sql/ itself; yoyo knows a migration by its id (the file's
    name), so a database it migrated is up to date with the same files in sql/migrations/ and
    takes only what came after."""
    released = tmp_path / "sql"
    released.mkdir()
    for name in RELEASED:
        (released / name).write_bytes((migrations_dir() / name).read_bytes())
    params: dict[str, Any] = psycopg.conninfo.conninfo_to_dict(empty_dsn)
    url = f"postgresql+psycopg://{params['user']}@{params['host']}:{params['port']}/{params['dbname']}"
    yoyo = Path(__import__("sys").executable).with_name("yoyo")
    subprocess.run([str(yoyo), "apply", "--batch", "--database", url, str(released)], check=True, capture_output=True)
    newer = [path.stem for path in _forward_files() if path.name not in RELEASED]
    assert loyaltydb.migrate(empty_dsn) == newer
    assert all(state.applied for state in loyaltydb.status(empty_dsn))


def test_the_enumeration_domains_rewrite_no_table_and_keep_its_rows(empty_dsn: str) -> None:
    """0030 turns the enumerated columns into domains without rewriting a table (each ALTER
    COLUMN is binary-coercible; the domains' CHECKs are added after, which only scans): every
    table keeps its storage (relfilenode) and its rows, and the domains' CHECKs are validated."""
    tables = [
        "loyalty_programs",
        "program_enrollments",
        "loyalty_cards",
        "customer_business_relationships",
        "customer_approval_requests",
        "customer_notifications",
    ]
    storage = (
        "SELECT relname, relfilenode FROM pg_class WHERE relnamespace = 'loyalty'::regnamespace AND relname = ANY (%s)"
    )
    indexes = (
        "SELECT i.relname, i.relfilenode FROM pg_index AS x JOIN pg_class AS i ON i.oid = x.indexrelid"
        " WHERE x.indrelid = ANY (SELECT ('loyalty.' || t)::regclass FROM unnest(%s::text[]) AS t)"
    )
    everything = _all_migrations()
    with _backend(empty_dsn) as backend, backend.lock():
        backend.apply_migrations(everything.__class__([m for m in everything if m.id < "0030"]))
    with psycopg.connect(empty_dsn) as conn:
        world = build_world(conn)
        conn.commit()
        loyaltydb.approve_enrollment(conn, loyaltydb.request_enrollment(conn, world.new_user, world.coffee_club))
        conn.commit()
        before: dict[str, int] = dict(conn.execute(storage, (tables,)).fetchall())
        indexes_before: dict[str, int] = dict(conn.execute(indexes, (tables,)).fetchall())
        rows = [count(conn, f"SELECT count(*) FROM loyalty.{table}") for table in tables]
    assert len(before) == len(tables) and min(rows) >= 1
    loyaltydb.migrate(empty_dsn)
    with psycopg.connect(empty_dsn) as conn:
        assert dict(conn.execute(storage, (tables,)).fetchall()) == before
        indexes_after: dict[str, int] = dict(conn.execute(indexes, (tables,)).fetchall())
    # Built again: the partial indexes whose predicate names a changed column; no other.
    assert sorted(name for name, node in indexes_after.items() if indexes_before[name] != node) == [
        "customer_approval_requests_expiry_idx",
        "customer_approval_requests_invitations_idx",
        "customer_approval_requests_one_invitation_key",
        "customer_approval_requests_pending_idx",
        "customer_notifications_business_feed_idx",
        "customer_notifications_business_id_idx",
        "customer_notifications_customer_feed_idx",
    ]
    with psycopg.connect(empty_dsn) as conn:
        assert [count(conn, f"SELECT count(*) FROM loyalty.{table}") for table in tables] == rows
        checks = conn.execute(
            "SELECT t.typname, c.convalidated FROM pg_constraint AS c JOIN pg_type AS t ON t.oid = c.contypid"
            " WHERE t.typnamespace = 'loyalty'::regnamespace ORDER BY 1"
        ).fetchall()
    assert checks == [
        ("active_status", True),
        ("card_status", True),  # 0032's, the same way
        ("notification_audience", True),
        ("point_balance", True),
        ("point_reason", True),
        ("request_kind", True),
        ("request_status", True),
    ]


def test_the_ledger_migration_explains_every_existing_balance(empty_dsn: str) -> None:
    """0032 on a database with cards: one with welcome points (a WELCOME row already), one whose
    balance no row explains (an import's), one with nothing; each gets an OPENING row for what its
    rows do not explain, every enrollment its card's balance, and verify_points finds nothing."""
    everything = _all_migrations()
    with _backend(empty_dsn) as backend, backend.lock():
        backend.apply_migrations(everything.__class__([m for m in everything if m.id < "0032"]))
    with psycopg.connect(empty_dsn) as conn:
        world = build_world(conn)
        conn.execute("UPDATE loyalty.loyalty_programs SET welcome_points = 10 WHERE id = %s", (world.coffee_club,))
        conn.commit()
        welcomed = loyaltydb.approve_enrollment(conn, loyaltydb.request_enrollment(conn, 32, world.coffee_club))
        imported = loyaltydb.approve_enrollment(conn, loyaltydb.request_enrollment(conn, 40, world.coffee_club))
        empty = loyaltydb.approve_enrollment(conn, loyaltydb.request_enrollment(conn, 40, world.tea_club))
        conn.execute("UPDATE loyalty.loyalty_cards SET points_balance = 250 WHERE id = %s", (imported.card_id,))
        conn.execute("UPDATE loyalty.program_enrollments SET current_points = 7 WHERE id = %s", (empty.enrollment_id,))
        conn.commit()
    loyaltydb.migrate(empty_dsn)
    with psycopg.connect(empty_dsn) as conn:
        rows = conn.execute(
            "SELECT card_id, reason, points, balance_after FROM loyalty.point_transactions ORDER BY card_id, id"
        ).fetchall()
        assert rows == [
            (welcomed.card_id, "WELCOME", 10, None),
            (imported.card_id, "WELCOME", 10, None),
            (imported.card_id, "OPENING", 240, 250),
        ]
        points = conn.execute("SELECT id, current_points FROM loyalty.program_enrollments ORDER BY id").fetchall()
        assert points == [(welcomed.enrollment_id, 10), (imported.enrollment_id, 250), (empty.enrollment_id, 0)]
        assert loyaltydb.verify_points(conn) == []


def test_the_expiry_migration_leaves_the_balance_on_the_newest_credits(empty_dsn: str) -> None:
    """0036 on a card with a welcome credit, an earn and a spend: what is left of the credits is
    the balance, held by the newest ones (spends used the oldest first), so verify_points holds."""
    everything = _all_migrations()
    with _backend(empty_dsn) as backend, backend.lock():
        backend.apply_migrations(everything.__class__([m for m in everything if m.id < "0036"]))
    with psycopg.connect(empty_dsn) as conn:
        world = build_world(conn)
        conn.execute("UPDATE loyalty.loyalty_programs SET welcome_points = 10 WHERE id = %s", (world.coffee_club,))
        conn.commit()
        loyaltydb.approve_enrollment(conn, loyaltydb.request_enrollment(conn, 32, world.coffee_club))
        loyaltydb.earn_points(conn, 32, world.coffee_club, 50, idempotency_key="e")
        loyaltydb.spend_points(conn, 32, world.coffee_club, 20, idempotency_key="s")
    loyaltydb.migrate(empty_dsn)
    with psycopg.connect(empty_dsn) as conn:
        left = conn.execute(
            "SELECT reason::text, points - consumed FROM loyalty.point_transactions WHERE points > 0 ORDER BY id"
        ).fetchall()
        assert left == [("WELCOME", 0), ("EARN", 40)]
        assert loyaltydb.verify_points(conn) == []
