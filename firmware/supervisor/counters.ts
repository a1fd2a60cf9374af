// The run's own counters: what STATUS, the progress log line and END report.
// captured = spooled + spoolDropped; spooled = analysed + quarantined + lost to
// failed segment authentication. Any other difference is a bug the tests look for.
export class RunCounters {
  captured = 0;
  /** Bytes of the captured packets as stored (caplen), for STATUS's Mbit/s. */
  capturedBytes = 0;
  spooled = 0;
  spoolDropped = 0;
  spoolAuthFailures = 0;
  analysed = 0;
  quarantined = 0;
  egressRefused = 0;
  /** Records of the module's declared streams refused by the trusted exit (schema, range, rate, k). */
  streamsRefused = 0;
  analysisRestarts = 0;
  segmentsSealed = 0;
  records: Record<string, number> = {};
}
