"""Test helper: a tiny random GroundingDINO + SAM pair saved with save_pretrained (tokenizer built offline)."""

from __future__ import annotations

from pathlib import Path

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "product", "bottle", "perfume", "phone", "case"]


def build_tiny_grounded_sam(root: Path) -> tuple[Path, Path]:
    """Write <root>/detector and <root>/segmenter (config + model.safetensors + processor files)."""
    import torch
    from transformers import (
        BertConfig,
        BertTokenizer,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessorPil,
        GroundingDinoProcessor,
        SamConfig,
        SamImageProcessorPil,
        SamMaskDecoderConfig,
        SamModel,
        SamProcessor,
        SamPromptEncoderConfig,
        SamVisionConfig,
        SwinConfig,
    )

    torch.set_num_threads(1)
    torch.manual_seed(0)
    det_dir, seg_dir = root / "detector", root / "segmenter"
    det_dir.mkdir(parents=True, exist_ok=True)
    (root / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    text = BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                      intermediate_size=37, max_position_embeddings=64)
    swin = SwinConfig(image_size=64, patch_size=4, embed_dim=16, depths=[1, 1], num_heads=[1, 1], window_size=4,
                      out_features=["stage1", "stage2"])
    det_cfg = GroundingDinoConfig(
        backbone_config=swin, text_config=text, d_model=32, num_queries=10, encoder_layers=1, decoder_layers=2,
        encoder_ffn_dim=32, decoder_ffn_dim=32, encoder_attention_heads=2, decoder_attention_heads=2,
        num_feature_levels=2, encoder_n_points=2, decoder_n_points=2, max_text_len=16)
    GroundingDinoForObjectDetection(det_cfg).save_pretrained(det_dir)
    GroundingDinoProcessor(
        image_processor=GroundingDinoImageProcessorPil(size={"shortest_edge": 64, "longest_edge": 96}),
        tokenizer=BertTokenizer(str(root / "vocab.txt")),
    ).save_pretrained(det_dir)
    vision = SamVisionConfig(hidden_size=16, output_channels=16, num_hidden_layers=2, num_attention_heads=2,
                             image_size=64, patch_size=8, window_size=4, global_attn_indexes=[1], num_pos_feats=8,
                             mlp_dim=32)
    sam_cfg = SamConfig(
        vision_config=vision,
        prompt_encoder_config=SamPromptEncoderConfig(hidden_size=16, image_size=64, patch_size=8, mask_input_channels=4),
        mask_decoder_config=SamMaskDecoderConfig(hidden_size=16, mlp_dim=32, num_attention_heads=2,
                                                 iou_head_hidden_dim=16))
    sam = SamModel(sam_cfg)
    with torch.no_grad():  # bias the decoder so masks are non-empty: random weights may give empty ones
        sam.mask_decoder.upscale_conv2.bias.fill_(3.0)
        for mlp in sam.mask_decoder.output_hypernetworks_mlps:
            mlp.proj_out.weight.mul_(0.01)
            mlp.proj_out.bias.fill_(1.0)
    sam.save_pretrained(seg_dir)
    SamProcessor(image_processor=SamImageProcessorPil(size={"longest_edge": 64}, pad_size={"height": 64, "width": 64})
                 ).save_pretrained(seg_dir)
    return det_dir, seg_dir
