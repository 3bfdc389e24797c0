// Batches the microphone's 128-sample render quanta into 20 ms frames and posts them, with the
// frame's RMS level, to the page. Runs on the audio thread.
class MicCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.size = Math.round(sampleRate / 50);
    this.buffer = new Float32Array(this.size);
    this.filled = 0;
  }
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) {
      for (let i = 0; i < channel.length; i++) {
        this.buffer[this.filled++] = channel[i];
        if (this.filled === this.size) {
          let sum = 0;
          for (let j = 0; j < this.size; j++) sum += this.buffer[j] * this.buffer[j];
          this.port.postMessage({ samples: this.buffer, rms: Math.sqrt(sum / this.size) }, [this.buffer.buffer]);
          this.buffer = new Float32Array(this.size);
          this.filled = 0;
        }
      }
    }
    return true;
  }
}
registerProcessor("mic-capture", MicCapture);
