"use strict";
// The page: asks GET /model what the model reads, then offers a 28 × 28 drawing pad for digit models or a
// features box for any other, and shows POST /predict's answer as a label and one bar per class.

const $ = id => document.getElementById(id);
const pad = $("pad");
const pen = pad.getContext("2d", { willReadFrequently: true });
const BRUSH_WIDTH = 2.4; // in model pixels: about the stroke width of an MNIST digit

let model = null;
let drawing = false;
let last = null;
let latestRequest = 0; // answers to older requests than the one shown are dropped
let predicting = false;
let predictAgain = false;

start();

async function start() {
  const response = await fetch("model");
  if (response.status === 503) { // still loading
    setTimeout(start, 500);
    return;
  }
  if (!response.ok) {
    $("model-line").textContent = "The model's description could not be read: " + await problemText(response);
    return;
  }
  model = await response.json();
  document.title = `MlNetLstm: ${model.modelFile}`;
  $("model-line").textContent = describe(model);
  $("model-info").textContent = JSON.stringify(model, null, 2);
  buildBars();
  showScores(null);
  if (model.image) {
    $("digit-ui").hidden = false;
    clearPad();
  } else {
    $("title").textContent = "Send a sequence, see how the LSTM classifies it";
    $("model-details").open = true;
    $("features-ui").hidden = false;
    $("features-text").placeholder = model.featureLength
      ? `[${model.featureLength} numbers]`
      : `[any multiple of ${model.inputSize} numbers: ${model.inputSize} per step]`;
  }
}

function describe(m) {
  const input = m.featureLength
    ? `${m.featureLength} values (${m.sequenceLength} steps of ${m.inputSize})`
    : `sequences of any length, ${m.inputSize} value${m.inputSize === 1 ? "" : "s"} per step`;
  const layers = (m.numberOfLayers > 1 ? ` × ${m.numberOfLayers} layers` : "") + (m.bidirectional ? ", both directions," : "");
  return `${m.modelFile}: an LSTM of ${m.hiddenSize} units${layers} reading ${input} ` +
    `into ${m.classCount} classes. MlNetLstm ${m.libraryVersion}.`;
}

// ---- drawing ----

function clearPad() {
  pen.fillStyle = "#000";
  pen.fillRect(0, 0, pad.width, pad.height);
  $("sample-note").textContent = "";
  latestRequest++; // an answer still on its way is for the old drawing
  showScores(null);
}

function toPad(event) {
  const box = pad.getBoundingClientRect();
  return { x: (event.clientX - box.left) * pad.width / box.width, y: (event.clientY - box.top) * pad.height / box.height };
}

function dot(p) {
  pen.fillStyle = "#fff";
  pen.beginPath();
  pen.arc(p.x, p.y, BRUSH_WIDTH / 2, 0, 2 * Math.PI);
  pen.fill();
}

function line(a, b) {
  pen.strokeStyle = "#fff";
  pen.lineWidth = BRUSH_WIDTH;
  pen.lineCap = "round";
  pen.lineJoin = "round";
  pen.beginPath();
  pen.moveTo(a.x, a.y);
  pen.lineTo(b.x, b.y);
  pen.stroke();
}

pad.addEventListener("pointerdown", event => {
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  drawing = true;
  last = toPad(event);
  dot(last);
});
pad.addEventListener("pointermove", event => {
  if (!drawing) return;
  const p = toPad(event);
  line(last, p);
  last = p;
  predictPad();
});
for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, () => {
    if (!drawing) return;
    drawing = false;
    predictPad();
  });
}

function padFeatures() {
  const pixels = pen.getImageData(0, 0, pad.width, pad.height).data;
  const features = new Array(pad.width * pad.height);
  for (let i = 0; i < features.length; i++)
    features[i] = pixels[i * 4] / 255; // grey: red = green = blue
  return features;
}

// Live predictions while drawing: one request at a time, and one more for the strokes drawn meanwhile.
async function predictPad() {
  if (predicting) {
    predictAgain = true;
    return;
  }
  predicting = true;
  try {
    do {
      predictAgain = false;
      await predict(padFeatures());
    } while (predictAgain);
  } finally {
    predicting = false;
  }
}

$("clear").addEventListener("click", clearPad);

$("show-sample").addEventListener("click", async () => {
  const index = Math.max(0, Math.floor(Number($("sample-index").value) || 0));
  const response = await fetch(`samples/${index}`);
  if (!response.ok) {
    showError(await problemText(response));
    return;
  }
  const digit = await response.json();
  const image = pen.createImageData(pad.width, pad.height);
  digit.features.forEach((value, i) => {
    const grey = Math.round(value * 255);
    image.data.set([grey, grey, grey, 255], i * 4);
  });
  pen.putImageData(image, 0, 0);
  $("sample-note").textContent = `Test digit ${digit.index}, labelled ${digit.label}.`;
  $("sample-index").value = digit.index + 1; // the next click shows the next one
  await predict(digit.features);
});

// ---- any model: a features array ----

$("predict-text").addEventListener("click", () => {
  let features;
  try {
    features = JSON.parse($("features-text").value);
  } catch (error) {
    showError("That is not JSON: " + error.message);
    return;
  }
  predict(features);
});

// ---- predictions ----

async function predict(features) {
  const request = ++latestRequest;
  const started = performance.now();
  let response;
  try {
    response = await fetch("predict", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ features }),
    });
  } catch (error) {
    showError("The service did not answer: " + error.message);
    return;
  }
  if (request !== latestRequest) return;
  if (!response.ok) {
    showError(await problemText(response));
    return;
  }
  const prediction = await response.json();
  if (request !== latestRequest) return;
  showScores(prediction);
  $("status").className = "";
  $("status").textContent = `Answered in ${Math.round(performance.now() - started)} ms.`;
}

function buildBars() {
  $("bars").replaceChildren(...model.labels.map(label => {
    const item = document.createElement("li");
    item.innerHTML = '<span class="label"></span><span class="track"><span class="fill"></span></span><span class="value"></span>';
    item.querySelector(".label").textContent = label;
    return item;
  }));
}

function showScores(prediction) {
  $("predicted").textContent = prediction ? prediction.predictedLabel : "–";
  [...$("bars").children].forEach((item, i) => {
    const probability = prediction ? prediction.score[i] : 0;
    item.dataset.probability = String(probability);
    item.classList.toggle("top", !!prediction && model.labels[i] === prediction.predictedLabel);
    item.querySelector(".fill").style.width = `${(probability * 100).toFixed(2)}%`;
    item.querySelector(".value").textContent = prediction ? `${(probability * 100).toFixed(1)}%` : "";
  });
  if (!prediction) $("status").textContent = "";
}

function showError(message) {
  $("status").className = "error";
  $("status").textContent = message;
}

async function problemText(response) {
  try {
    const problem = await response.json();
    return problem.detail || problem.title || `${response.status} ${response.statusText}`;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}
