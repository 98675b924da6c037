// Independent signers and verifiers for the webhook presets, for the signers test
// suite (signers_test.go). Each scheme is signed and verified by the provider's own
// library where it publishes one on npm, else by the recipe of the provider's
// documentation written with node:crypto; `by` names which, and the library versions
// are printed so that the test output shows them.
//
// Input on stdin: a JSON array of jobs
//   {op: "sign"|"verify", scheme, key, body, headers, url, now}
// where key is the secret (or the private key to sign, the public key to verify) and
// now is Unix seconds. Output on stdout: {versions, results}, results[i] being
//   {headers, body, by} for sign, {ok, error, reply, by} for verify (reply: the body a
// library answering a handshake itself gives, so far Zoom's).
import "@shopify/shopify-api/adapters/node";
import { shopifyApi, ApiVersion, LogSeverity } from "@shopify/shopify-api";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

import { sign as ghSign, verify as ghVerify } from "@octokit/webhooks-methods";
import { LinearWebhookClient } from "@linear/sdk/webhooks";
import { verifyWebhook as clerkVerifyWebhook } from "@clerk/backend/webhooks";
import { AwsLambdaReceiver as ZoomLambdaReceiver } from "@zoom/rivet/meetings";

const require = createRequire(import.meta.url);
const Stripe = require("stripe");
const { Webhook: StdWebhook } = require("standardwebhooks");
const { Webhook: SvixWebhook } = require("svix");
const { verifyKey } = require("discord-interactions");
const nacl = require("tweetnacl");
const { EventWebhook } = require("@sendgrid/eventwebhook");
const twilio = require("twilio");
const { WebhooksHelper } = require("square");
const { Signature: HubSpotSignature } = require("@hubspot/api-client");
const { Paddle } = require("@paddle/paddle-node-sdk");
const { WorkOS } = require("@workos-inc/node");
const { Resend } = require("resend");

// Zoom's receiver logs every event with console.debug; stdout carries the results.
console.debug = () => {};

const here = path.dirname(fileURLToPath(import.meta.url));
const libs = ["@shopify/shopify-api", "stripe", "@octokit/webhooks-methods", "standardwebhooks", "svix", "discord-interactions", "tweetnacl",
  "@sendgrid/eventwebhook", "twilio", "square", "@hubspot/api-client", "@paddle/paddle-node-sdk", "@linear/sdk", "@workos-inc/node",
  "@zoom/rivet", "@clerk/backend", "resend"];
const versions = Object.fromEntries(libs.map((l) =>
  [l, JSON.parse(fs.readFileSync(path.join(here, "node_modules", l, "package.json"), "utf8")).version]));
const v = (l) => `${l}@${versions[l]}`;

const hmac = (alg, key, msg, enc) => crypto.createHmac(alg, key).update(msg, "utf8").digest(enc);
const same = (a, b) => a.length === b.length && crypto.timingSafeEqual(Buffer.from(a), Buffer.from(b));
const params = (body) => {
  const out = {};
  for (const [k, val] of new URLSearchParams(body)) out[k] = val;
  return out;
};
const stripe = Stripe("sk_test_signers_suite");
const workos = new WorkOS("sk_test_signers_suite");
const paddle = new Paddle("pdl_sdbx_apikey_signers_suite");
const shopifyFor = (secret) => shopifyApi({ apiSecretKey: secret, apiKey: "signers", hostName: "hooks.example.com",
  apiVersion: ApiVersion.October25, isEmbeddedApp: false, logger: { level: LogSeverity.Error, log: () => {} } });

// Each scheme: sign(job) -> {headers, body}, verify(job) -> boolean (or throws), and
// what signs and verifies.
const schemes = {
  stripe: {
    by: v("stripe"),
    sign: (j) => ({ headers: { "stripe-signature": stripe.webhooks.generateTestHeaderString({ payload: j.body, secret: j.key, timestamp: j.now }) } }),
    verify: (j) => !!stripe.webhooks.constructEvent(j.body, j.headers["stripe-signature"], j.key),
  },
  github: {
    by: v("@octokit/webhooks-methods"),
    sign: async (j) => ({ headers: { "x-hub-signature-256": await ghSign(j.key, j.body) } }),
    verify: (j) => ghVerify(j.key, j.body, j.headers["x-hub-signature-256"]),
  },
  // Signed as shopify.dev/docs/apps/build/webhooks/subscribe/https (validate the origin) shows: HMAC-SHA256 of the raw body, base64.
  shopify: {
    by: `documented recipe signs, ${v("@shopify/shopify-api")} (webhooks.validate, which also requires the topic, domain, API version and webhook id headers) verifies`,
    sign: (j) => ({ headers: { "x-shopify-hmac-sha256": hmac("sha256", j.key, j.body, "base64") } }),
    verify: async (j) => {
      const r = await shopifyFor(j.key).webhooks.validate({ rawBody: j.body, rawRequest: { headers: j.headers, method: "POST", url: "/" }, rawResponse: {} });
      if (!r.valid) throw new Error("shopify: " + r.reason + (r.missingHeaders ? " " + r.missingHeaders.join(",") : ""));
      return true;
    },
  },
  "standard-webhooks": {
    by: v("standardwebhooks"),
    sign: (j) => ({
      headers: { "webhook-timestamp": String(j.now), "webhook-signature": new StdWebhook(j.key).sign(j.headers["webhook-id"], new Date(j.now * 1000), j.body) },
    }),
    verify: (j) => !!new StdWebhook(j.key).verify(j.body, j.headers),
  },
  // Tenaz's own generic scheme, written from the README's description.
  "hmac-sha256": {
    by: "README recipe (node:crypto)",
    sign: (j) => ({ headers: { "x-acme-signature": "sha256=" + hmac("sha256", j.key, j.body, "hex") } }),
    verify: (j) => same("sha256=" + hmac("sha256", j.key, j.body, "hex"), j.headers["x-acme-signature"]),
  },
  hmac: {
    by: "README recipe (node:crypto)",
    sign: (j) => ({ headers: { "x-example-signature": `t=${j.now},v1=` + hmac("sha512", j.key, `${j.now}.${j.body}`, "hex") } }),
    verify: (j) => {
      const f = Object.fromEntries(j.headers["x-example-signature"].split(",").map((kv) => kv.split("=")));
      return same(hmac("sha512", j.key, `${f.t}.${j.body}`, "hex"), f.v1);
    },
  },
  discord: {
    by: `${v("tweetnacl")} signs, ${v("discord-interactions")} verifies`,
    sign: (j) => {
      const sig = nacl.sign.detached(Buffer.from(String(j.now) + j.body), Buffer.from(j.key, "hex"));
      return { headers: { "x-signature-ed25519": Buffer.from(sig).toString("hex"), "x-signature-timestamp": String(j.now) } };
    },
    verify: (j) => verifyKey(j.body, j.headers["x-signature-ed25519"], j.headers["x-signature-timestamp"], j.key),
  },
  // twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features
  sendgrid: {
    by: `node:crypto ECDSA signs, ${v("@sendgrid/eventwebhook")} verifies`,
    sign: (j) => {
      const key = crypto.createPrivateKey({ key: Buffer.from(j.key, "base64"), format: "der", type: "pkcs8" });
      const sig = crypto.sign("sha256", Buffer.from(String(j.now) + j.body), { key, dsaEncoding: "der" }).toString("base64");
      return { headers: { "x-twilio-email-event-webhook-signature": sig, "x-twilio-email-event-webhook-timestamp": String(j.now) } };
    },
    verify: (j) => {
      const ew = new EventWebhook();
      return ew.verifySignature(ew.convertPublicKeyToECDSA(j.key), j.body,
        j.headers["x-twilio-email-event-webhook-signature"], j.headers["x-twilio-email-event-webhook-timestamp"]);
    },
  },
  twilio: {
    by: v("twilio"),
    sign: (j) => ({ headers: { "x-twilio-signature": twilio.getExpectedTwilioSignature(j.key, j.url, params(j.body)) } }),
    verify: (j) => twilio.validateRequest(j.key, j.headers["x-twilio-signature"], j.url, params(j.body)),
  },
  // docs.gitlab.com/user/project/integrations/webhooks/#create-a-webhook (secret token)
  gitlab: {
    by: "docs.gitlab.com documented secret token",
    sign: (j) => ({ headers: { "x-gitlab-token": j.key } }),
    verify: (j) => same(j.key, j.headers["x-gitlab-token"] || ""),
  },
  // postmarkapp.com/developer/webhooks/webhooks-overview (basic auth), RFC 7617
  postmark: {
    by: "postmarkapp.com documented HTTP Basic credentials (RFC 7617)",
    sign: (j) => ({ headers: { authorization: "Basic " + Buffer.from(j.key).toString("base64") } }),
    verify: (j) => same("Basic " + Buffer.from(j.key).toString("base64"), j.headers.authorization || ""),
  },
  // Signed as developers.zoom.us/docs/api/webhooks/#verify-webhook-events shows; verified
  // by Zoom's Rivet SDK receiver for Lambda, which also answers endpoint.url_validation
  // (its answer is in the result's reply).
  zoom: {
    by: `documented recipe signs, ${v("@zoom/rivet")} (AwsLambdaReceiver) verifies`,
    sign: (j) => ({ headers: { "x-zm-request-timestamp": String(j.now), "x-zm-signature": "v0=" + hmac("sha256", j.key, `v0:${j.now}:${j.body}`, "hex") } }),
    verify: async (j) => {
      const handler = new ZoomLambdaReceiver({ webhooksSecretToken: j.key }).start();
      const res = await handler({ body: j.body, headers: j.headers, isBase64Encoded: false }, {});
      if (res.statusCode !== 200) throw new Error(`zoom: ${res.statusCode} ${res.body}`);
      return { reply: res.body };
    },
  },
  // dev.twitch.tv/docs/eventsub/handling-webhook-events/#verifying-the-event-message (the documented Node example)
  twitch: {
    by: "dev.twitch.tv documented recipe (node:crypto)",
    sign: (j) => {
      const ts = new Date(j.now * 1000).toISOString();
      const msg = j.headers["twitch-eventsub-message-id"] + ts + j.body;
      return { headers: { "twitch-eventsub-message-timestamp": ts, "twitch-eventsub-message-signature": "sha256=" + hmac("sha256", j.key, msg, "hex") } };
    },
    verify: (j) => {
      const msg = j.headers["twitch-eventsub-message-id"] + j.headers["twitch-eventsub-message-timestamp"] + j.body;
      return same("sha256=" + hmac("sha256", j.key, msg, "hex"), j.headers["twitch-eventsub-message-signature"]);
    },
  },
  // developer.paddle.com/webhooks/signature-verification
  paddle: {
    by: `documented recipe signs, ${v("@paddle/paddle-node-sdk")} verifies`,
    sign: (j) => ({ headers: { "paddle-signature": `ts=${j.now};h1=` + hmac("sha256", j.key, `${j.now}:${j.body}`, "hex") } }),
    verify: (j) => paddle.webhooks.isSignatureValid(j.body, j.key, j.headers["paddle-signature"]),
  },
  // developer.squareup.com/docs/webhooks/step3validate
  square: {
    by: `documented recipe signs, ${v("square")} verifies`,
    sign: (j) => ({ headers: { "x-square-hmacsha256-signature": hmac("sha256", j.key, j.url + j.body, "base64") } }),
    verify: (j) => WebhooksHelper.verifySignature({ requestBody: j.body, signatureHeader: j.headers["x-square-hmacsha256-signature"], signatureKey: j.key, notificationUrl: j.url }),
  },
  "hubspot-v3": {
    by: v("@hubspot/api-client"),
    sign: (j) => {
      const ts = j.now * 1000;
      return { headers: { "x-hubspot-request-timestamp": String(ts),
        "x-hubspot-signature-v3": HubSpotSignature.getSignature("POST", "v3", { clientSecret: j.key, requestBody: j.body, url: j.url, timestamp: ts }) } };
    },
    verify: (j) => HubSpotSignature.isValid({ signatureVersion: "v3", method: "POST", signature: j.headers["x-hubspot-signature-v3"], clientSecret: j.key,
      requestBody: j.body, url: j.url, timestamp: Number(j.headers["x-hubspot-request-timestamp"]) }),
  },
  // linear.app/developers/webhooks#securing-webhooks
  linear: {
    by: `documented recipe signs, ${v("@linear/sdk")} (LinearWebhookClient) verifies`,
    sign: (j) => ({ headers: { "linear-signature": hmac("sha256", j.key, j.body, "hex") } }),
    verify: (j) => new LinearWebhookClient(j.key).verify(Buffer.from(j.body), j.headers["linear-signature"]),
  },
  // developers.intercom.com/docs/references/webhooks/webhook-models#signed-notifications
  intercom: {
    by: "developers.intercom.com documented recipe (node:crypto)",
    sign: (j) => ({ headers: { "x-hub-signature": "sha1=" + hmac("sha1", j.key, j.body, "hex") } }),
    verify: (j) => same("sha1=" + hmac("sha1", j.key, j.body, "hex"), j.headers["x-hub-signature"]),
  },
  // support.atlassian.com/bitbucket-cloud/docs/manage-webhooks/#Secure-webhooks
  bitbucket: {
    by: "support.atlassian.com documented recipe (node:crypto)",
    sign: (j) => ({ headers: { "x-hub-signature": "sha256=" + hmac("sha256", j.key, j.body, "hex") } }),
    verify: (j) => same("sha256=" + hmac("sha256", j.key, j.body, "hex"), j.headers["x-hub-signature"]),
  },
  // vercel.com/docs/webhooks/webhooks-api#securing-webhooks (the documented example)
  vercel: {
    by: "vercel.com documented recipe (node:crypto)",
    sign: (j) => ({ headers: { "x-vercel-signature": hmac("sha1", j.key, j.body, "hex") } }),
    verify: (j) => same(hmac("sha1", j.key, j.body, "hex"), j.headers["x-vercel-signature"]),
  },
  workos: {
    by: v("@workos-inc/node"),
    sign: async (j) => {
      const ts = j.now * 1000;
      const sig = await workos.webhooks.computeSignature(ts, JSON.parse(j.body), j.key);
      return { headers: { "workos-signature": `t=${ts}, v1=${sig}` } };
    },
    verify: (j) => workos.webhooks.verifyHeader({ payload: JSON.parse(j.body), sigHeader: j.headers["workos-signature"], secret: j.key }),
  },
  // developer.calendly.com/api-docs/4c305798a61d3-webhook-signatures
  calendly: {
    by: "developer.calendly.com documented recipe (node:crypto)",
    sign: (j) => ({ headers: { "calendly-webhook-signature": `t=${j.now},v1=` + hmac("sha256", j.key, `${j.now}.${j.body}`, "hex") } }),
    verify: (j) => {
      const f = Object.fromEntries(j.headers["calendly-webhook-signature"].split(",").map((kv) => kv.split("=")));
      return same(hmac("sha256", j.key, `${f.t}.${j.body}`, "hex"), f.v1);
    },
  },
  // www.typeform.com/developers/webhooks/secure-your-webhooks/ (the documented Node example)
  typeform: {
    by: "typeform.com documented recipe (node:crypto)",
    sign: (j) => ({ headers: { "typeform-signature": "sha256=" + hmac("sha256", j.key, j.body, "base64") } }),
    verify: (j) => same("sha256=" + hmac("sha256", j.key, j.body, "base64"), j.headers["typeform-signature"]),
  },
  clerk: {
    by: `${v("svix")} signs, ${v("@clerk/backend")} (verifyWebhook) verifies`,
    sign: svixScheme().sign,
    verify: async (j) => !!(await clerkVerifyWebhook(new Request("https://hooks.example.com/webhooks/clerk", { method: "POST", headers: j.headers, body: j.body }),
      { signingSecret: j.key })),
  },
  resend: {
    by: `${v("svix")} signs, ${v("resend")} (webhooks.verify) verifies`,
    sign: svixScheme().sign,
    verify: (j) => !!new Resend("re_signers_suite").webhooks.verify({ payload: j.body, webhookSecret: j.key,
      headers: { id: j.headers["svix-id"], timestamp: j.headers["svix-timestamp"], signature: j.headers["svix-signature"] } }),
  },
  // documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks (the documented example)
  mailgun: {
    by: "documentation.mailgun.com documented recipe (node:crypto)",
    sign: (j) => {
      const d = JSON.parse(j.body);
      const token = crypto.randomBytes(25).toString("hex");
      d.signature = { timestamp: String(j.now), token, signature: hmac("sha256", j.key, String(j.now) + token, "hex") };
      return { headers: {}, body: JSON.stringify(d) };
    },
    verify: (j) => {
      const s = JSON.parse(j.body).signature;
      return same(hmac("sha256", j.key, s.timestamp + s.token, "hex"), s.signature);
    },
  },
};

function svixScheme() {
  return {
    by: v("svix"),
    sign: (j) => ({
      headers: { "svix-timestamp": String(j.now), "svix-signature": new SvixWebhook(j.key).sign(j.headers["svix-id"], new Date(j.now * 1000), j.body) },
    }),
    verify: (j) => !!new SvixWebhook(j.key).verify(j.body, j.headers),
  };
}

async function run(job) {
  const s = schemes[job.scheme];
  if (!s) return { error: `no signer for scheme ${job.scheme}` };
  try {
    if (job.op === "sign") {
      const r = await s.sign(job);
      return { headers: { ...job.headers, ...r.headers }, body: r.body ?? job.body, by: s.by };
    }
    const r = await s.verify(job);
    if (r !== null && typeof r === "object") return { ok: true, reply: r.reply, by: s.by };
    return { ok: r === true, by: s.by };
  } catch (e) {
    return { ok: false, error: String(e && e.message ? e.message : e), by: s.by };
  }
}

const jobs = JSON.parse(fs.readFileSync(0, "utf8"));
const results = [];
for (const job of jobs) results.push(await run(job));
process.stdout.write(JSON.stringify({ versions, results }));
