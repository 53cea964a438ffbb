#compdef parallelrun
# zsh completion for parallelrun (installed as share/zsh/site-functions/_parallelrun).
# The options come from the installed command's own help.
_parallelrun() {
  local -a subcommands opts
  subcommands=(run validate resume jobs report tune help version)
  if (( CURRENT == 2 )); then
    compadd -- $subcommands --help --version
    return
  fi
  case "${words[CURRENT-1]}" in
    --progress) compadd -- auto bar plain none; return ;;
    --start-method|--start_method) compadd -- fork spawn; return ;;
  esac
  if [[ "${words[2]}" == help ]]; then
    compadd -- $subcommands
  elif [[ "$PREFIX" == -* ]]; then
    opts=(${(f)"$("${words[1]}" "${words[2]}" --help 2>/dev/null | grep -o -- '--[A-Za-z][A-Za-z0-9_-]*' | sort -u)"})
    compadd -- $opts
  else
    _files
  fi
}
_parallelrun "$@"
