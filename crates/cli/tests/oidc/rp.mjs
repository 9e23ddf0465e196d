// A strict relying party: openid-client 6 (on oauth4webapi), unchanged,
// against keybound. Run by crates/cli/tests/oidc.rs with the provider's
// port, a registered client and the signed-in person's cookie; prints one
// JSON object of what it saw. The issuer is https://kb.test (the test
// origin served in plain HTTP behind a pretend proxy): requests for it go
// to the port.
import * as client from 'openid-client';

const env = process.env;
const issuer = new URL(env.KB_ISSUER);
const local = (url) => {
  const u = new URL(url);
  if (u.origin !== issuer.origin) throw new Error(`unexpected request to ${u.origin}`);
  return `http://127.0.0.1:${env.KB_PORT}${u.pathname}${u.search}`;
};
const customFetch = (url, options) => fetch(local(url), options);

const config = await client.discovery(
  issuer,
  env.KB_CLIENT_ID,
  { client_secret: env.KB_CLIENT_SECRET, id_token_signed_response_alg: 'ES256' },
  client.ClientSecretBasic(env.KB_CLIENT_SECRET),
  { [client.customFetch]: customFetch },
);
config[client.customFetch] = customFetch;

const verifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const nonce = client.randomNonce();
const authorize = client.buildAuthorizationUrl(config, {
  redirect_uri: env.KB_REDIRECT,
  scope: 'openid profile groups',
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  state,
  nonce,
});
// The person's browser follows the link; keybound answers with the redirect.
const answer = await fetch(local(authorize.href), {
  redirect: 'manual',
  headers: { cookie: env.KB_COOKIE },
});
const callback = new URL(answer.headers.get('location'));

const tokens = await client.authorizationCodeGrant(config, callback, {
  pkceCodeVerifier: verifier,
  expectedState: state,
  expectedNonce: nonce,
  idTokenExpected: true,
});
const claims = tokens.claims();
const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
const seen = await client.tokenIntrospection(config, tokens.access_token);
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
await client.tokenRevocation(config, refreshed.access_token);
const revoked = await client.tokenIntrospection(config, refreshed.access_token);
let reuse = 'accepted';
try {
  await client.refreshTokenGrant(config, tokens.refresh_token);
} catch (e) {
  reuse = e.error ?? String(e);
}

console.log(JSON.stringify({
  acr: claims.acr,
  amr: claims.amr,
  auth_time: typeof claims.auth_time,
  username: info.preferred_username,
  groups: info.groups,
  active: seen.active,
  rotated: refreshed.refresh_token !== tokens.refresh_token,
  revoked_active: revoked.active,
  reuse,
}));
