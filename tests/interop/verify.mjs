// Verify a raretrace certificate's Data Integrity proof with the Digital Bazaar stack, offline.
//
// Why: raretrace promises that its certificates verify with verifiers it did not write. This script
// checks the promise with the npm stack most Verifiable Credential software builds on:
// jsonld-signatures + @digitalbazaar/data-integrity + @digitalbazaar/eddsa-jcs-2022-cryptosuite, the
// issuer's did:key resolved by @digitalbazaar/did-method-key with @digitalbazaar/ed25519-multikey.
// Nothing is fetched: the document loader answers from the npm context packages and the did:key
// driver, and refuses every other URL (so a verifier that needed one would fail here, not go online).
//
// Usage: node tests/interop/verify.mjs FILE
//   FILE: the signed credential, or the file `raretrace certify --out` writes ({credential, disclosures}),
//         whose `credential` member is the signed credential.
// Prints one JSON object: {"verified": bool, "error": string|null, "loaded": [URLs the stack asked for]}.
// Exit status: 0 verified, 1 not verified, 2 the file could not be read.
import {readFile} from 'node:fs/promises';

import * as didKey from '@digitalbazaar/did-method-key';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {contexts as credentialsContexts} from '@digitalbazaar/credentials-context';
import {contexts as dataIntegrityContexts} from '@digitalbazaar/data-integrity-context';
import {contexts as didContexts} from 'did-context';
import {contexts as multikeyContexts} from '@digitalbazaar/multikey-context';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {createVerifyCryptosuite} from '@digitalbazaar/eddsa-jcs-2022-cryptosuite';
import jsigs from 'jsonld-signatures';

const {purposes: {AssertionProofPurpose}} = jsigs;

/** The JSON-LD contexts this verifier may be asked for, each from an npm package (no network). */
const CONTEXTS = new Map([
  ...credentialsContexts, ...dataIntegrityContexts, ...didContexts, ...multikeyContexts
]);

const didKeyDriver = didKey.driver();
didKeyDriver.use({multibaseMultikeyHeader: 'z6Mk', fromMultibase: Ed25519Multikey.from});

/** Every URL the stack asked the loader for, to report which documents verification needed. */
const loaded = [];

async function documentLoader(url) {
  loaded.push(url);
  if(CONTEXTS.has(url)) {
    return {contextUrl: null, documentUrl: url, document: CONTEXTS.get(url)};
  }
  if(url.startsWith('did:key:')) {
    return {contextUrl: null, documentUrl: url, document: await didKeyDriver.get({url})};
  }
  throw new Error(`offline verifier: no local copy of ${url}`);
}

async function main(path) {
  let credential;
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8'));
    credential = parsed && typeof parsed.credential === 'object' ? parsed.credential : parsed;
  } catch(e) {
    console.log(JSON.stringify({verified: false, error: `cannot read ${path}: ${e.message}`, loaded}));
    return 2;
  }
  const suite = new DataIntegrityProof({cryptosuite: createVerifyCryptosuite()});
  const result = await jsigs.verify(credential, {
    suite, purpose: new AssertionProofPurpose(), documentLoader
  });
  const error = result.verified ? null : describe(result.error);
  console.log(JSON.stringify({verified: result.verified, error, loaded}));
  return result.verified ? 0 : 1;
}

/** The error(s) jsonld-signatures returns (one error, or an aggregate of several) as one line. */
function describe(error) {
  if(!error) {
    return 'not verified (no error given)';
  }
  const errors = Array.isArray(error.errors) ? error.errors : [error];
  return errors.map(e => `${e.name}: ${e.message}`).join('; ');
}

if(process.argv.length !== 3) {
  console.error('usage: node verify.mjs CREDENTIAL.json');
  process.exit(2);
}
process.exitCode = await main(process.argv[2]);
