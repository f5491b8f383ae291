#include "passes/pipeline.h"

#include "passes/fold_batchnorm.h"
#include "passes/fuse_channel_shuffle.h"
#include "passes/fuse_concat_batchnorm.h"
#include "passes/fuse_conv_add.h"
#include "passes/fuse_conv_activation.h"
#include "passes/fuse_squeeze_excite.h"
#include "passes/fuse_swish.h"

namespace kiln::passes {

std::vector<Pass> pipeline(FuseLevel level) {
  const Pass fold{"fold_batchnorm", fold_batchnorm};
  const Pass conv_add{"fuse_conv_add", fuse_conv_add};
  const Pass swish{"fuse_swish", fuse_swish};
  const Pass concat_batchnorm{"fuse_concat_batchnorm", fuse_concat_batchnorm};
  const Pass conv_activation{"fuse_conv_activation", fuse_conv_activation};
  const Pass squeeze_excite{"fuse_squeeze_excite", fuse_squeeze_excite};
  const Pass channel_shuffle{"fuse_channel_shuffle", fuse_channel_shuffle};
  switch (level) {
    case FuseLevel::none: return {};
    case FuseLevel::batchnorm: return {fold};
    // conv + add before conv + activation, so a block's closing activation
    // goes into the conv2d_add rather than leaving the add behind; the swish
    // it may move is whole by then, and so is the concat_batchnorm that may
    // take a relu. The batchnorms that fold_batchnorm folds are gone first.
    // A channel shuffle touches no conv and could go anywhere. A
    // squeeze-excitation block is matched last, with its convs' activations in.
    case FuseLevel::all:
      return {fold, swish, concat_batchnorm, conv_add, conv_activation, channel_shuffle,
              squeeze_excite};
  }
  return {};
}

}  // namespace kiln::passes
