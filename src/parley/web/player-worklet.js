// Gapless playback of streamed PCM through a ring buffer, with a small jitter buffer before
// starting. Reports how many samples it has played, so the page can tell the server how much of
// a reply the user heard, and how loud it was. "clear" drops everything not yet played, at once.
class Player extends AudioWorkletProcessor {
  constructor() {
    super();
    this.capacity = sampleRate * 120;
    this.ring = new Float32Array(this.capacity);
    this.read = 0;
    this.write = 0;
    this.played = 0;
    this.started = false;
    this.jitterSamples = Math.round(sampleRate * 0.06);
    this.lastReport = 0;
    this.peak = 0; // loudest sample played since the last report, for the page's waveform
    this.flushing = false;
    this.port.onmessage = (event) => {
      const message = event.data;
      if (message.type === "push") {
        const samples = message.samples;
        for (let i = 0; i < samples.length; i++) {
          this.ring[this.write] = samples[i];
          this.write = (this.write + 1) % this.capacity;
        }
      } else if (message.type === "clear") {
        this.read = this.write;
        this.started = false;
        this.report(true);
      } else if (message.type === "reset-count") {
        this.played = 0;
      } else if (message.type === "flush") {
        this.flushing = true; // the reply's audio is complete: play the tail without waiting
      }
    };
  }
  buffered() {
    return (this.write - this.read + this.capacity) % this.capacity;
  }
  report(force) {
    if (force || currentFrame - this.lastReport >= sampleRate / 20) {
      this.lastReport = currentFrame;
      this.port.postMessage({ played: this.played, buffered: this.buffered(), playing: this.started, peak: this.peak });
      this.peak = 0;
    }
  }
  process(_inputs, outputs) {
    const out = outputs[0][0];
    if (!this.started && this.buffered() > 0) {
      this.started = this.buffered() >= this.jitterSamples || this.flushing;
    }
    let wasPlaying = this.started;
    for (let i = 0; i < out.length; i++) {
      if (this.started && this.read !== this.write) {
        out[i] = this.ring[this.read];
        this.peak = Math.max(this.peak, Math.abs(out[i]));
        this.read = (this.read + 1) % this.capacity;
        this.played++;
      } else {
        out[i] = 0;
        if (this.started && this.read === this.write) {
          this.started = false;
          this.flushing = false;
        }
      }
    }
    this.report(wasPlaying !== this.started);
    return true;
  }
}
registerProcessor("player", Player);
