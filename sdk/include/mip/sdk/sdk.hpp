#pragma once

/// Everything a plugin needs: include this, write a class, register it.
#include <mip/sdk/checkpoint_listener.hpp>
#include <mip/sdk/context.hpp>
#include <mip/sdk/data.hpp>
#include <mip/sdk/error.hpp>
#include <mip/sdk/logger.hpp>
#include <mip/sdk/model.hpp>
#include <mip/sdk/param_view.hpp>
#include <mip/sdk/problem.hpp>
#include <mip/sdk/register.hpp>
#include <mip/sdk/statistics.hpp>
#include <mip/sdk/visualization.hpp>
