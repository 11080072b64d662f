// Runs the SQL calls it reads as JSON on stdin ([{name, sql, params}]) through node-postgres,
// one connection, in order, each in autocommit, and prints one JSON line per call:
// {name, rows} or {name, error: {code, message}}. Parameters go untyped, as node-postgres sends
// them; the connection is used again after each error (it must stay usable).
import pg from "pg";

const input = await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
});
const client = new pg.Client({ connectionString: process.env.LOYALTYDB_TEST_DSN });
await client.connect();
for (const call of JSON.parse(input)) {
  try {
    const result = await client.query(call.sql, call.params);
    console.log(JSON.stringify({ name: call.name, rows: result.rows }));
  } catch (error) {
    console.log(JSON.stringify({ name: call.name, error: { code: error.code, message: error.message } }));
  }
}
await client.end();
