// Verify a raretrace certificate with the Digital Bazaar Verifiable Credential stack, offline.
//
// Why: raretrace promises that its certificates verify with verifiers it did not write. Our own
// verifier agreeing with our own signer would not catch a mistake made on both sides (JCS, proof
// options, @context handling), so this script checks the promise with the npm stack much VC software
// builds on. Nothing is fetched: the document loader answers from the npm context packages, the
// did:key driver and the status list file given, and refuses every other URL (a verifier needing one
// fails here instead of going online).
//
// Two layers, each reported:
//   proof       jsonld-signatures + @digitalbazaar/data-integrity + @digitalbazaar/eddsa-jcs-2022-
//               cryptosuite: the Data Integrity proof (assertionMethod of the issuer's did:key, resolved
//               by @digitalbazaar/did-method-key with @digitalbazaar/ed25519-multikey).
//   credential  @digitalbazaar/vc verifyCredential: the same proof plus the VC 2.0 checks (issuer is the
//               key's controller, validFrom/validUntil at --now) and the Bitstring Status List entry
//               (@digitalbazaar/vc-bitstring-status-list), the list verified too. Needs --status-list:
//               vc refuses a credential with credentialStatus and no way to check it.
//
// Usage: node tests/interop/verify.mjs FILE [--status-list STATUS.json] [--now 2026-11-30T12:00:00Z]
//   FILE: the signed credential, or the file `raretrace certify --out` writes ({credential,
//         disclosures}), whose `credential` member is the signed credential.
// Prints one JSON object: {"verified", "error", "proof": {"verified", "error"}, "credential":
// {"verified", "error", "revoked"} or null when not run, "loaded": [URLs the stack asked for]}.
// "verified" is true when every layer run verified and the certificate is not revoked.
// Exit status: 0 verified, 1 not verified, 2 bad arguments or an unreadable file.
import {readFile} from 'node:fs/promises';
import {parseArgs} from 'node:util';

import * as didKey from '@digitalbazaar/did-method-key';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import * as vc from '@digitalbazaar/vc';
import {checkStatus} from '@digitalbazaar/vc-bitstring-status-list';
import {contexts as credentialsContexts} from '@digitalbazaar/credentials-context';
import {contexts as dataIntegrityContexts} from '@digitalbazaar/data-integrity-context';
import {contexts as didContexts} from 'did-context';
import {contexts as multikeyContexts} from '@digitalbazaar/multikey-context';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {createVerifyCryptosuite} from '@digitalbazaar/eddsa-jcs-2022-cryptosuite';
import jsigs from 'jsonld-signatures';

const {purposes: {AssertionProofPurpose}} = jsigs;

/** The documents the loader serves by URL: JSON-LD contexts from npm packages, the status list. */
const DOCUMENTS = new Map([
  ...credentialsContexts, ...dataIntegrityContexts, ...didContexts, ...multikeyContexts
]);

const didKeyDriver = didKey.driver();
didKeyDriver.use({multibaseMultikeyHeader: 'z6Mk', fromMultibase: Ed25519Multikey.from});

/** Every URL the stack asked the loader for, to report which documents verification needed. */
const loaded = [];

async function documentLoader(url) {
  loaded.push(url);
  if(DOCUMENTS.has(url)) {
    return {contextUrl: null, documentUrl: url, document: DOCUMENTS.get(url)};
  }
  if(url.startsWith('did:key:')) {
    return {contextUrl: null, documentUrl: url, document: await didKeyDriver.get({url})};
  }
  throw new Error(`offline verifier: no local copy of ${url}`);
}

function suite() {
  return new DataIntegrityProof({cryptosuite: createVerifyCryptosuite()});
}

/** The error(s) the stack returns (one error, or an aggregate of several) as one line. */
function describe(error) {
  if(!error) {
    return 'not verified (no error given)';
  }
  const errors = Array.isArray(error.errors) ? error.errors : [error];
  return errors.map(e => `${e.name}: ${e.message}`).join('; ');
}

async function proofLayer(credential) {
  // jsigs.verify removes nothing from its input, but each layer gets its own copy all the same.
  const result = await jsigs.verify(structuredClone(credential), {
    suite: suite(), purpose: new AssertionProofPurpose(), documentLoader
  });
  return {verified: result.verified, error: result.verified ? null : describe(result.error)};
}

async function credentialLayer(credential, now) {
  const result = await vc.verifyCredential({
    credential: structuredClone(credential), suite: suite(), documentLoader, now, checkStatus
  });
  // vc-bitstring-status-list says "verified" when it could read the bit; the bit is `status`.
  const statuses = result.statusResult?.results ?? [];
  const revoked = statuses.some(entry => entry.status === true);
  const error = result.verified ? null : describe(result.error ?? result.statusResult?.error);
  return {verified: result.verified, error, revoked};
}

async function main() {
  const {values, positionals} = parseArgs({
    allowPositionals: true,
    options: {'status-list': {type: 'string'}, now: {type: 'string'}}
  });
  if(positionals.length !== 1) {
    throw new UsageError('usage: node verify.mjs FILE [--status-list STATUS.json] [--now TIME]');
  }
  const now = values.now === undefined ? new Date() : new Date(values.now);
  if(isNaN(now)) {
    throw new UsageError(`--now: not a date-time: ${values.now}`);
  }
  const file = await readJson(positionals[0]);
  const credential = file && typeof file.credential === 'object' ? file.credential : file;
  let statusList = null;
  if(values['status-list'] !== undefined) {
    statusList = await readJson(values['status-list']);
    DOCUMENTS.set(statusList.id, statusList);
  }
  const proof = await proofLayer(credential);
  const checked = statusList === null ? null : await credentialLayer(credential, now);
  const failed = [
    proof.verified ? null : `proof: ${proof.error}`,
    checked === null || checked.verified ? null : `credential: ${checked.error}`,
    checked?.revoked ? 'credential: revoked (its bit in the status list is set)' : null,
  ].filter(Boolean);
  const verified = failed.length === 0;
  const error = verified ? null : failed.join('; ');
  console.log(JSON.stringify({verified, error, proof, credential: checked, loaded: [...new Set(loaded)]}));
  return verified ? 0 : 1;
}

class UsageError extends Error {}

async function readJson(path) {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch(e) {
    throw new UsageError(`cannot read ${path}: ${e.message}`);
  }
}

try {
  process.exitCode = await main();
} catch(e) {
  if(!(e instanceof UsageError)) {
    throw e;
  }
  console.error(e.message);
  process.exitCode = 2;
}
