// The direction of dependencies between Aviary's layers (docs: /DESIGN.md, "Layers and the direction
// of dependencies"), checked by `node scripts/lint.mjs` as `depcruise --config .dependency-cruiser.cjs src`.
//
// Every rule below is a *forbidden* rule at severity "error": a match fails the lint and therefore
// `npm test`. Paths are regular expressions over the resolved file path relative to the repo root
// (e.g. `src/protocol/mqtt/packets.ts`); type-only imports count too (tsPreCompilationDeps), because
// an `import type` across a layer boundary is still a dependency on that layer's shape.
// Tests (test/**) and benchmarks are not cruised: they may import anything.
//
// When the code shows a better shape, change a rule deliberately and record it in
// docs/architecture.md (DESIGN.md says so).

/** Plugin-like layers that sit on top of the core and talk to it only through src/broker/index.ts. */
const EDGE_LAYERS = 'api|cluster|gateways|rules|bridge';
/** A persistence backend: any folder directly under src/persistence (sqlite/, memory/, redis/, ...). */
const BACKEND = '^src/persistence/[^/]+/';
/** The top-level persistence interface files (src/persistence/*.ts), which everyone may use. */
const PERSISTENCE_INTERFACES = '^src/persistence/[^/]+\\.ts$';
/** The leaf error catalogue. */
const ERRORS = '^src/errors\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    // ---------------------------------------------------------------------------------------------
    // protocol: pure codecs. It imports nothing of ours outside src/protocol, not even src/errors.ts
    // (ProtocolError lives in src/protocol/errors.ts), so the `aviary/protocol` export stands alone.
    {
      name: 'protocol-imports-only-protocol',
      severity: 'error',
      comment:
        'src/protocol is pure codecs and imports nothing of ours outside src/protocol ' +
        '(not even src/errors.ts: protocol errors are in src/protocol/errors.ts).',
      from: { path: '^src/protocol/' },
      to: { path: '^src/', pathNot: '^src/protocol/' },
    },

    // ---------------------------------------------------------------------------------------------
    // routing: the topic trie and match cache need topic parsing and nothing else.
    {
      name: 'routing-imports-only-topic',
      severity: 'error',
      comment: 'src/routing may import only src/routing, src/protocol/topic.ts and src/errors.ts.',
      from: { path: '^src/routing/' },
      to: { path: '^src/', pathNot: ['^src/routing/', '^src/protocol/topic\\.ts$', ERRORS] },
    },

    // ---------------------------------------------------------------------------------------------
    // broker: the core never depends on what is built around it.
    {
      name: 'core-not-to-edges',
      severity: 'error',
      comment:
        'src/broker (the core) never imports transport, api, cluster, gateways, rules, bridge, cli or ' +
        'main.ts: those depend on the core (through src/broker/index.ts), not the other way round.',
      from: { path: '^src/broker/' },
      to: {
        path: [`^src/(transport|${EDGE_LAYERS}|cli)/`, '^src/main\\.ts$', '^src/index\\.ts$'],
      },
    },
    {
      name: 'core-not-to-backend',
      severity: 'error',
      comment:
        'src/broker uses the store interfaces in src/persistence/*.ts, never a backend ' +
        '(src/persistence/<backend>/): backends are chosen in src/main.ts.',
      from: { path: '^src/broker/' },
      to: { path: BACKEND },
    },

    // ---------------------------------------------------------------------------------------------
    // channel and session: protocol state machines that see protocol types and the interfaces of
    // persistence and broker. A channel drives its session, so channel -> session is allowed; a
    // session never reaches back into a channel.
    {
      name: 'channel-allowed-imports',
      severity: 'error',
      comment:
        'src/channel may import only src/channel, src/session, src/protocol, src/broker, src/routing, ' +
        'src/config, src/observability, src/errors.ts and the interface files src/persistence/*.ts ' +
        '(not transport, not a persistence backend).',
      from: { path: '^src/channel/' },
      to: {
        path: '^src/',
        pathNot: [
          '^src/(channel|session|protocol|broker|routing|config|observability)/',
          PERSISTENCE_INTERFACES,
          ERRORS,
        ],
      },
    },
    {
      name: 'session-allowed-imports',
      severity: 'error',
      comment:
        'src/session may import only src/session, src/protocol, src/broker, src/routing, src/config, ' +
        'src/observability, src/errors.ts and the interface files src/persistence/*.ts ' +
        '(not channel, not transport, not a persistence backend).',
      from: { path: '^src/session/' },
      to: {
        path: '^src/',
        pathNot: [
          '^src/(session|protocol|broker|routing|config|observability)/',
          PERSISTENCE_INTERFACES,
          ERRORS,
        ],
      },
    },

    // ---------------------------------------------------------------------------------------------
    // transport: bytes in, bytes out. No MQTT logic at all, not even the codecs.
    {
      name: 'transport-is-bytes-only',
      severity: 'error',
      comment:
        'src/transport moves bytes and knows no MQTT: it may import only src/transport, src/config, ' +
        'src/observability and src/errors.ts (not protocol, channel, session, broker or routing).',
      from: { path: '^src/transport/' },
      to: { path: '^src/', pathNot: ['^src/(transport|config|observability)/', ERRORS] },
    },

    // ---------------------------------------------------------------------------------------------
    // persistence backends are constructed only by the composition roots.
    {
      name: 'backend-only-in-composition-root',
      severity: 'error',
      comment:
        'A persistence backend (src/persistence/<backend>/) is imported only by src/main.ts and ' +
        'src/index.ts; everything else uses the interfaces in src/persistence/*.ts. (Tests may import ' +
        'backends; they are not cruised.)',
      from: { path: '^src/', pathNot: ['^src/(main|index)\\.ts$', BACKEND] },
      to: { path: BACKEND },
    },
    {
      name: 'backends-independent',
      severity: 'error',
      comment: 'A persistence backend never imports another backend.',
      from: { path: '^src/persistence/([^/]+)/' },
      to: { path: BACKEND, pathNot: '^src/persistence/$1/' },
    },

    // ---------------------------------------------------------------------------------------------
    // api, cluster, gateways, rules, bridge: built on the core's public surface only.
    {
      name: 'edges-use-broker-index-only',
      severity: 'error',
      comment:
        'src/{api,cluster,gateways,rules,bridge} depend on the core only through src/broker/index.ts ' +
        '(hooks, ports, types), never on other broker internals.',
      from: { path: `^src/(${EDGE_LAYERS})/` },
      to: { path: '^src/broker/', pathNot: '^src/broker/index\\.ts$' },
    },
    {
      name: 'edges-not-to-each-others-internals',
      severity: 'error',
      comment:
        'src/{api,cluster,gateways,rules,bridge} never import the internals of one another: ' +
        'only the other layer’s index.ts.',
      from: { path: `^src/(${EDGE_LAYERS})/` },
      to: { path: `^src/(${EDGE_LAYERS})/`, pathNot: ['^src/$1/', `^src/(${EDGE_LAYERS})/index\\.ts$`] },
    },

    // ---------------------------------------------------------------------------------------------
    // src/errors.ts: a leaf every layer may import.
    {
      name: 'errors-is-a-leaf',
      severity: 'error',
      comment: 'src/errors.ts is imported by every layer, so it imports nothing of ours.',
      from: { path: ERRORS },
      to: { path: '^src/' },
    },

    // ---------------------------------------------------------------------------------------------
    // General hygiene.
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'This import closes a cycle of modules. Break it (move the shared part down a layer, or invert ' +
        'the dependency through an interface). Cycles made only of `import type` edges are erased at ' +
        'runtime and are not reported; cycles with at least one runtime import are.',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'not-to-dev-dep',
      severity: 'error',
      comment:
        'src/ ships to users, who do not install devDependencies: move the package to "dependencies" ' +
        'or keep it out of src/ (tests and benchmarks may use devDependencies).',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], pathNot: 'node_modules/@types/' },
    },
    {
      name: 'no-non-package-json',
      severity: 'error',
      comment: 'src/ imports an npm package that package.json does not declare: add it to "dependencies".',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment:
        'An import that dependency-cruiser cannot resolve to a file. Besides catching typos, this keeps ' +
        'the layer rules honest: an unresolved import would slip past every rule above.',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: ['node_modules'] },
    exclude: { path: '^dist/' },
    // Count `import type` as a dependency (layering is about shapes too) and mark it as 'type-only'
    // so that no-circular can tell erased cycles from runtime ones.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['es6', 'cjs'],
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
      extensions: ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs', '.d.ts', '.json'],
    },
    skipAnalysisNotInRules: true,
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
