// A real OpenID Connect provider for the tests: npm's oidc-provider (a certified
// implementation) on 127.0.0.1, with the test's clients, people and signing key:
//   node end2end/oidc-provider.mjs <config.json>
// config.json: { "port": 1234, "keyFile": "<PKCS#8 PEM, P-256>", "clients": [...],
//                "accounts": { "<id>": { <claims> } } }
// It prints "ready <issuer>" once it listens. Its sign-in and consent pages are the package's
// own HTML forms (any password: the tests are about Portcullis, not the provider's checks).
// A test makes it forget a person with POST /_test/forget/<id>, as an administrator
// removing someone from the directory behind a real provider would, and changes their groups
// with POST /_test/groups/<id>?groups=a,b.
import { readFileSync } from "node:fs";
import { createPrivateKey } from "node:crypto";
import Provider from "oidc-provider";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const jwk = createPrivateKey(readFileSync(config.keyFile)).export({ format: "jwk" });
const accounts = new Map(Object.entries(config.accounts));
const issuer = `http://127.0.0.1:${config.port}`;

const provider = new Provider(issuer, {
  clients: config.clients,
  jwks: { keys: [{ ...jwk, kid: "test-key", alg: "ES256", use: "sig" }] },
  scopes: ["openid", "offline_access", "profile", "email", "groups"],
  claims: {
    openid: ["sub"],
    profile: ["name", "preferred_username"],
    email: ["email", "email_verified"],
    groups: ["groups"],
  },
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true, methods: ["S256"] },
  cookies: { keys: ["a cookie key for the test provider only"] },
  async findAccount(ctx, id) {
    const claims = accounts.get(id);
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
});

provider.use(async (ctx, next) => {
  const forget = ctx.path.match(/^\/_test\/forget\/([^/]+)$/);
  if (forget && ctx.method === "POST") {
    accounts.delete(decodeURIComponent(forget[1]));
    ctx.status = 204;
    return;
  }
  const groups = ctx.path.match(/^\/_test\/groups\/([^/]+)$/);
  if (groups && ctx.method === "POST") {
    const account = accounts.get(decodeURIComponent(groups[1]));
    account.groups = (ctx.query.groups ?? "").split(",").filter((g) => g);
    ctx.status = 204;
    return;
  }
  await next();
});

const server = provider.listen(config.port, "127.0.0.1", () => console.log(`ready ${issuer}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
