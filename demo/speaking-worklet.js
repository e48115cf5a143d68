// speaking-worklet.js - the demo page's speaking detector, run on the
// audio thread. A page in a background tab has its timers slowed to one a
// second, and a sampling timer then misses short sounds; audio processing
// is never slowed. It posts {speaking: true|false} whenever the level of
// the microphone crosses the threshold, holding "speaking" through
// holdSeconds of quiet (in audio time).
class SpeakingDetector extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = (options && options.processorOptions) || {};
    this.level = typeof o.level === 'number' ? o.level : 0.02;
    this.hold = typeof o.holdSeconds === 'number' ? o.holdSeconds : 0.4;
    this.lastLoud = -Infinity;
    this.speaking = false;
  }

  process(inputs) {
    const samples = inputs[0] && inputs[0][0];
    if (samples && samples.length > 0) {
      let sum = 0;
      for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
      if (Math.sqrt(sum / samples.length) > this.level) this.lastLoud = currentTime;
    }
    const speaking = currentTime - this.lastLoud < this.hold;
    if (speaking !== this.speaking) {
      this.speaking = speaking;
      this.port.postMessage({ speaking });
    }
    return true; // keep listening while the page lives
  }
}

registerProcessor('speaking-detector', SpeakingDetector);
