// flows-basic: selects sealtap's built-in bidirectional flows analysis.
//
// This module adds no code of its own: naming the "flows" output makes the analysis
// process run the built-in flows module (bounded flow table, idle and active
// timeouts), whose records pass the policy in policy.json before they leave the box.
// A researcher's own module exports the same fields plus its handlers (see the
// analysis SDK); a module that only declares outputs uses the built-in analyses.
'use strict';

module.exports = {
  name: 'flows-basic',
  version: '1.0.0',
  outputs: ['flows'],
};
