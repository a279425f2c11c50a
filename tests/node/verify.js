// Verifies a Standard Webhooks signature with the reference implementation
// (npm "standardwebhooks"), not ours. Usage: node verify.js SECRET BODY_FILE ID TIMESTAMP SIGNATURE
const fs = require("fs");
const { Webhook } = require("standardwebhooks");
const [secret, bodyFile, id, ts, sig] = process.argv.slice(2);
const body = fs.readFileSync(bodyFile, "utf8");
try {
  const wh = new Webhook(secret);
  const out = wh.verify(body, { "webhook-id": id, "webhook-timestamp": ts, "webhook-signature": sig });
  process.stdout.write("verified: " + JSON.stringify(out).slice(0, 60) + "\n");
  process.exit(0);
} catch (e) {
  process.stderr.write("verification failed: " + e.message + "\n");
  process.exit(1);
}
