// postgres.js (version 3), the replaced system's client library: the calls of the flow written
// as its `sql` tagged templates, as a service moving off the replaced system would write them,
// with the two traps tests/test_node_client.py documents. Reads {dsn, program, requests:
// {name: uuid}} as JSON on stdin; prints one JSON line a call: {name, rows} or {name, error}.
import postgres from "postgres";

const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
}));
const sql = postgres(process.env.LOYALTYDB_TEST_DSN, { max: 1, onnotice: () => {} });
const { program, requests } = input;
const calls = {
  // A JS boolean: the approval it says.
  approve: () => sql`SELECT status FROM loyalty.process_enrollment_approval(${requests.approve}, ${true})`,
  // The trap: the STRING 'true' for a boolean parameter is sent as false: a rejection.
  string_true: () => sql`SELECT status FROM loyalty.process_enrollment_approval(${requests.string_true}, ${"true"})`,
  // The way round it when the value is a string: let the server read it as text first.
  string_as_text: () =>
    sql`SELECT status FROM loyalty.process_enrollment_approval(${requests.string_as_text}, ${"true"}::text::boolean)`,
  // The trap: sql.array() sends text[], and no batch function takes text[] (42883) ...
  array_untyped: () => sql`SELECT status FROM loyalty.process_enrollment_approvals(${sql.array(requests.batch)})`,
  // ... a cast says which array it is.
  array_cast: () => sql`SELECT status FROM loyalty.process_enrollment_approvals(${sql.array(requests.batch)}::uuid[])`,
  earn: () => sql`SELECT points, balance_after FROM loyalty.earn_points(${32}, ${program}, ${10}, ${"pjs-1"})`,
  cards: () => sql`SELECT card_number, program_name FROM loyalty.customer_cards(${32})`,
};
for (const [name, call] of Object.entries(calls)) {
  try {
    console.log(JSON.stringify({ name, rows: await call() }));
  } catch (error) {
    console.log(JSON.stringify({ name, error: { code: error.code, message: error.message } }));
  }
}
await sql.end();
