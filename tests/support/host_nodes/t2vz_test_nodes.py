"""Test-only nodes, linked into the test host's custom_nodes by the test fixtures.

They produce inputs no core node makes, so the API tests can send them to the pack:
an empty CONDITIONING list (as some list/batch nodes of other packs emit), a MODEL
whose diffusion model is not a UNet (what Flux, SD3 or other DiT checkpoints give), and a
non-pack node whose validation message looks like the pack's.
"""


class T2VZTest_EmptyConditioning:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "make"
    CATEGORY = "T2VZ tests"

    def make(self):
        return ([],)


class T2VZTest_NonUNetModel:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("MODEL",)}}

    RETURN_TYPES = ("MODEL",)
    FUNCTION = "make"
    CATEGORY = "T2VZ tests"

    def make(self, model):
        import comfy.ldm.modules.diffusionmodules.mmdit as mmdit
        import comfy.ops

        m = model.clone()
        dit = mmdit.MMDiT(input_size=None, patch_size=2, in_channels=4, depth=1, num_patches=64,
                          adm_in_channels=None, context_embedder_config=None,
                          operations=comfy.ops.disable_weight_init)
        m.add_object_patch("diffusion_model", dit)
        return (m,)


class T2VZTest_TwoInputCheck:
    """Not a pack node (its id does not start with T2VZ_), with a validate_inputs message in the
    pack's "input: text" form: ComfyUI's listing of its errors must reach the client unchanged."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": ("IMAGE",), "a": ("INT", {"default": 0}), "b": ("INT", {"default": 1})}}

    @classmethod
    def VALIDATE_INPUTS(cls, a, b):
        return True if a != b else f"a: a ({a}) must differ from b ({b})"

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "make"
    CATEGORY = "T2VZ tests"

    def make(self, image, a, b):
        return (image,)


NODE_CLASS_MAPPINGS = {
    "T2VZTest_TwoInputCheck": T2VZTest_TwoInputCheck,
    "T2VZTest_EmptyConditioning": T2VZTest_EmptyConditioning,
    "T2VZTest_NonUNetModel": T2VZTest_NonUNetModel,
}
