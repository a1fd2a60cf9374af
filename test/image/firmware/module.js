// The image test's analysis firmware: declares the built-in outputs and adds no code,
// so the box runs its built-in flows and packets analyses. The test checks that every
// replayed packet and flow comes out on the results line, so this must name both.
'use strict';

module.exports = {
  name: 'image-test',
  version: '1.0.0',
  outputs: ['flows', 'packets'],
};
