"""An image and a video in one conversation work on every family (transformers' GLM-V models count video
placeholders as image tokens, so the processor's output for such a prompt fails in ``generate``).

The reference drives the model by hand the way its processor means: image features on the image tokens, video
features on the video tokens (told apart by ``mm_token_type_ids``), M-RoPE positions from the original grids,
then ``generate`` from those embeddings. The engine's greedy output must equal it token for token.
"""

from __future__ import annotations

import av
import numpy as np
import pytest
from PIL import Image

from glmv.engine import ChatRequest, open_engine
from glmv.media import load_image, load_video
from glmv.messages import user_message

pytestmark = pytest.mark.slow

FAMILIES = ["glm-4.1v-thinking", "glm-4.5v", "glm-4.6v", "glm-4.6v-flash"]
MAX_TOKENS = 12


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mixed")
    rng = np.random.default_rng(7)
    image = folder / "photo.png"
    Image.fromarray(rng.integers(0, 255, (84, 112, 3), dtype=np.uint8)).save(image)
    video = folder / "clip.mp4"
    with av.open(str(video), "w") as container:
        stream = container.add_stream("libx264", rate=4)
        stream.width, stream.height, stream.pix_fmt = 84, 56, "yuv420p"
        for _ in range(8):
            frame = av.VideoFrame.from_ndarray(
                rng.integers(0, 255, (56, 84, 3), dtype=np.uint8), format="rgb24"
            )
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return image, video


def _by_hand(engine, request: ChatRequest, kinds: list[str], images, videos) -> str:
    import torch
    from transformers.video_utils import VideoMetadata

    prompt = engine.render_prompt(request)
    loaded_videos = [load_video(v, engine.family) for v in videos]
    inputs = engine.processor(
        text=[prompt],
        images=[load_image(i) for i in images],
        videos=[v.frames for v in loaded_videos],
        video_metadata=[VideoMetadata(**v.metadata()) for v in loaded_videos],
        do_sample_frames=False,
        return_tensors="pt",
    )
    model = engine.model
    types = inputs["mm_token_type_ids"][0]
    with torch.inference_mode():
        embeds = model.get_input_embeddings()(inputs["input_ids"])
        image_features = model.model.get_image_features(inputs["pixel_values"], inputs["image_grid_thw"])
        video_features = model.model.get_video_features(
            inputs["pixel_values_videos"], inputs["video_grid_thw"]
        )
        embeds[0, types == 1] = torch.cat(image_features.pooler_output).to(embeds.dtype)
        embeds[0, types == 2] = torch.cat(video_features.pooler_output).to(embeds.dtype)
        out = model.generate(
            input_ids=inputs["input_ids"],
            inputs_embeds=embeds,
            attention_mask=inputs["attention_mask"],
            mm_token_type_ids=inputs["mm_token_type_ids"],
            image_grid_thw=inputs["image_grid_thw"],
            video_grid_thw=inputs["video_grid_thw"],
            max_new_tokens=MAX_TOKENS,
            do_sample=False,
            eos_token_id=list(engine.stop_ids),
            pad_token_id=engine.pad_id,
        )
    tokens = out[0, inputs["input_ids"].shape[1] :].tolist()
    tokens = [t for t in tokens if t not in engine.stop_ids]
    return engine.tokenizer.decode(tokens, skip_special_tokens=False)


@pytest.mark.parametrize("family", FAMILIES)
def test_image_and_video_in_one_message_and_in_two_turns(tiny_checkpoints, media, family):
    image, video = media
    engine = open_engine(str(tiny_checkpoints(family, taught=False)))
    try:
        conversations = {
            "one message": [user_message("Compare them.", images=[image], videos=[video])],
            "two turns": [
                user_message("What is this?", images=[image]),
                {"role": "assistant", "content": "A picture."},
                user_message("And this clip?", videos=[video]),
            ],
        }
        for name, messages in conversations.items():
            request = ChatRequest(
                messages=messages, max_tokens=MAX_TOKENS, temperature=0.0, enable_thinking=False
            )
            reply = engine.chat(request)
            assert reply.raw == _by_hand(engine, request, ["image", "video"], [image], [video]), name
    finally:
        engine.close()
